from django.urls import path

from incidents.oncall import views

app_name = "oncall"

urlpatterns = [
    path("ical/<str:token>.ics", views.ical, name="ical"),
]
