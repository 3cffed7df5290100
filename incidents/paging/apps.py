from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "incidents.paging"
    label = "paging"
    verbose_name = "Paging"
