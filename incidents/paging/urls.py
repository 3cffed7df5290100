from django.urls import path

from incidents.paging import views

app_name = "paging"

urlpatterns = [
    path("<str:token>/", views.page_link, name="link"),
]
