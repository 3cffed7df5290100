from django.urls import path

from slas.api import views

urlpatterns = [
    path("tickets/<str:reference>/sla/", views.TicketSLAApi.as_view(), name="ticket-sla"),
    path("slas/compliance/", views.ComplianceApi.as_view(), name="sla-compliance"),
]
