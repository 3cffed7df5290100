from django.urls import path

from tickets.mail import api

urlpatterns = [
    path("mail/inbound/", api.inbound, name="mail-inbound"),
]
