"""Reads of notifications shared with other apps and the desk."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.models import User
from incidents.notify.models import (
    ContactMethod,
    Delivery,
    DeskNotification,
    Importance,
    Notification,
    NotificationRule,
)


def notifications_for(source: str, source_id: int) -> QuerySet[Notification]:
    """The notifications made for one source (e.g. a page), oldest first, each with its
    deliveries (in step order) prefetched, for a timeline."""
    return (
        Notification.objects.filter(source=source, source_id=source_id)
        .select_related("recipient")
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("step", "id")))
        .order_by("created_at", "id")
    )


def rules_of(user: User) -> dict[str, list[NotificationRule]]:
    """The person's rules by importance, in order."""
    rules: dict[str, list[NotificationRule]] = {value: [] for value in Importance.values}
    for rule in (
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("importance", "position", "id")
    ):
        rules[rule.importance].append(rule)
    return rules


def contact_methods_of(user: User) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user).order_by("kind", "created_at", "id")


def desk_notifications_of(user: User) -> QuerySet[DeskNotification]:
    """The person's desk notifications, newest first."""
    return (
        DeskNotification.objects.filter(user=user)
        .select_related("notification")
        .order_by("-created_at", "-id")
    )


def unread_count(user: User) -> int:
    """One count through the partial index of unread entries."""
    return DeskNotification.objects.filter(user=user, read_at__isnull=True).count()
