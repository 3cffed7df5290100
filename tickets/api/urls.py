from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets.api import views

router = SimpleRouter()
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("attachments", views.AttachmentViewSet, basename="attachment")
router.register("time-entries", views.TimeEntryViewSet, basename="time-entry")

urlpatterns = [
    *router.urls,
    path(
        "tickets/<str:reference>/messages/",
        views.TicketMessageViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-messages",
    ),
    path(
        "tickets/<str:reference>/attachments/",
        views.TicketAttachmentViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-attachments",
    ),
    path(
        "tickets/<str:reference>/time-entries/",
        views.TicketTimeEntryViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-time-entries",
    ),
]
