from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "incidents.notify"
    label = "notify"
    verbose_name = "Notifications"
