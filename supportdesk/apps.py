from django.apps import AppConfig


class SupportdeskConfig(AppConfig):
    name = "supportdesk"
    verbose_name = "Support Desk"

    def ready(self) -> None:
        # Tasks declared with @shared_task bind to this app in every process that runs
        # Django (web, worker, beat, management commands). Importing it here rather than in
        # supportdesk/__init__.py keeps `python -m supportdesk.embedded` free of Django.
        from supportdesk.celery import app  # noqa: F401
