from django.apps import AppConfig


class KbSearchConfig(AppConfig):
    name = "knowledgebase.search"
    label = "kbsearch"
    verbose_name = "Knowledge-base search"
    default_auto_field = "django.db.models.BigAutoField"
