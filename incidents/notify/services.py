"""Every write of notifications: notify a person, send a plain webhook, cancel what is
still pending, and a person's own contact methods, rules and desk notifications.

`notify()` and `send_webhook()` run inside the caller's transaction: they write the
notification and its deliveries, and hand the deliveries due now to the workers after
commit (incidents.notify.sending does the sending; its sweeper sends the later ones).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.models import User
from incidents.notify import sending
from incidents.notify.models import (
    Channel,
    ContactMethod,
    Delivery,
    DeliveryStatus,
    DeskNotification,
    Importance,
    Notification,
    NotificationRule,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One delivery a notification will get: `channel` after `delay_minutes`."""

    channel: str
    delay_minutes: int
    contact_method: ContactMethod | None = None


# With no rules of their own, a person gets an email and a desk notification at once.
DEFAULT_STEPS = (Step(Channel.EMAIL, 0), Step(Channel.DESK, 0))


def steps_for(*, user: User, importance: str) -> list[Step]:
    """The person's rules for `importance`, in order; important notifications fall back on
    the default rules, and a person with no rules at all on DEFAULT_STEPS."""
    rules = list(
        NotificationRule.objects.filter(user=user, importance__in=[importance, Importance.DEFAULT])
        .select_related("contact_method")
        .order_by("position", "id")
    )
    chosen = [r for r in rules if r.importance == importance] or [
        r for r in rules if r.importance == Importance.DEFAULT
    ]
    if not chosen:
        return list(DEFAULT_STEPS)
    return [Step(r.channel, r.delay_minutes, r.contact_method) for r in chosen]


def _check_importance(importance: str) -> None:
    if importance not in Importance.values:
        raise ValidationError({"importance": f"Choose one of {', '.join(Importance.values)}."})


def _existing(key: str) -> Notification | None:
    return Notification.objects.filter(key=key).first()


def _create_once(notification: Notification) -> tuple[Notification, bool]:
    """Insert the notification unless its key exists (also one being inserted right now by
    another transaction: the unique index makes this one wait for it)."""
    found = _existing(notification.key)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            notification.save(force_insert=True)
    except IntegrityError:
        found = _existing(notification.key)
        if found is None:
            raise
        return found, False
    return notification, True


def _address(
    step: Step, user: User, fallbacks: dict[str, ContactMethod]
) -> tuple[str, ContactMethod | None]:
    method = step.contact_method or fallbacks.get(step.channel)
    if step.channel == Channel.DESK:
        return "", None
    if step.channel == Channel.EMAIL and step.contact_method is None:
        return user.email, None
    if method is None:
        return "", None
    return method.address, method


@transaction.atomic  # a savepoint in the caller's: never a notification without its deliveries
def notify(
    *,
    recipient: User,
    subject: str,
    body: str,
    key: str,
    importance: str = "default",
    source: str = "",
    source_id: int | None = None,
    actions: dict[str, str] | None = None,
) -> Notification:
    """Tell `recipient` through their own rules for `importance`: one delivery per rule
    step, each due at now + its delay. Idempotent on `key`: a second call with the same key
    returns the first notification and sends nothing. Call it inside the transaction that
    decides to notify; sending starts after commit."""
    _check_importance(importance)
    if not key:
        raise ValidationError({"key": "A notification needs a key."})
    now = timezone.now()
    notification, created = _create_once(
        Notification(
            recipient=recipient,
            subject=subject[:300],
            body=body,
            importance=importance,
            key=key,
            source=source,
            source_id=source_id,
            actions=[[label, url] for label, url in (actions or {}).items()],
            created_at=now,
        )
    )
    if not created:
        return notification
    steps = steps_for(user=recipient, importance=importance)
    fallbacks: dict[str, ContactMethod] = {}
    if any(s.contact_method is None and s.channel in (Channel.SMS, Channel.WEBHOOK) for s in steps):
        for known in ContactMethod.objects.filter(user=recipient).order_by("created_at", "id"):
            fallbacks.setdefault(known.kind, known)
    deliveries = []
    for number, step in enumerate(steps):
        address, method = _address(step, recipient, fallbacks)
        due = now + timedelta(minutes=step.delay_minutes)
        delivery = Delivery(
            notification=notification,
            step=number,
            channel=step.channel,
            address=address,
            contact_method=method,
            due_at=due,
            next_attempt_at=due,
            idempotency_key=f"{key}/{number}",
            created_at=now,
            updated_at=now,
        )
        if step.channel != Channel.DESK and not address:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = f"{recipient} has no {step.channel} contact method to send to."
        deliveries.append(delivery)
    Delivery.objects.bulk_create(deliveries)
    _desk_now(
        notification, [d for d in deliveries if d.channel == Channel.DESK and d.due_at <= now]
    )
    _send_after_commit(
        d for d in deliveries if d.status == DeliveryStatus.PENDING and d.due_at <= now
    )
    return notification


def _desk_now(notification: Notification, deliveries: list[Delivery]) -> None:
    """Desk deliveries due now are sent at once: there is nothing to wait for."""
    if not deliveries or notification.recipient_id is None:
        return
    now = timezone.now()
    DeskNotification.objects.bulk_create(
        DeskNotification(
            user_id=notification.recipient_id,
            notification=notification,
            delivery=d,
            created_at=now,
        )
        for d in deliveries
    )
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        status=DeliveryStatus.SENT, sent_at=now, updated_at=now
    )
    for d in deliveries:
        d.status, d.sent_at = DeliveryStatus.SENT, now


def _send_after_commit(deliveries: Iterable[Delivery]) -> None:
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: sending.enqueue_sends(ids), robust=True)


@transaction.atomic
def send_webhook(
    *,
    url: str,
    payload: dict[str, Any],
    key: str,
    secret: str = "",
    source: str = "",
    source_id: int | None = None,
) -> Delivery:
    """POST `payload` as JSON to `url`, signed with HMAC-SHA256 (`secret`, or the setting
    PAGING_WEBHOOK_SECRET), retried like every delivery. Idempotent on `key`: the same key
    again returns the first delivery and sends nothing."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ValidationError({"url": "Enter a valid http or https URL."}) from exc
    if not key:
        raise ValidationError({"key": "A webhook needs a key."})
    now = timezone.now()
    subject = str(payload.get("subject") or payload.get("summary") or f"Webhook to {url}")
    notification, created = _create_once(
        Notification(
            recipient=None,
            subject=subject[:300],
            key=key,
            source=source,
            source_id=source_id,
            created_at=now,
        )
    )
    if not created:
        existing = notification.deliveries.order_by("step", "id").first()
        assert existing is not None, f"notification {key} has no delivery"
        return existing
    delivery = Delivery.objects.create(
        notification=notification,
        channel=Channel.WEBHOOK,
        address=url,
        payload=payload,
        signing_secret=secret,
        due_at=now,
        next_attempt_at=now,
        idempotency_key=f"{key}/0",
        created_at=now,
        updated_at=now,
    )
    _send_after_commit([delivery])
    return delivery


def cancel_pending(*, source: str, source_id: int) -> int:
    """Cancel the deliveries of `source` not sent yet (due later, or waiting for a retry);
    returns how many. One being sent right now is left to finish."""
    now = timezone.now()
    return Delivery.objects.filter(
        notification__source=source,
        notification__source_id=source_id,
        status=DeliveryStatus.PENDING,
    ).update(
        status=DeliveryStatus.CANCELLED, updated_at=now, last_error="Cancelled before it was sent."
    )


def deliveries_retry(*, delivery_ids: Iterable[int]) -> int:
    """Send failed (or cancelled) deliveries again, from a fresh count of attempts, with the
    same idempotency key; returns how many. Sent ones are never sent again."""
    now = timezone.now()
    ids = list(delivery_ids)
    retried = Delivery.objects.filter(
        pk__in=ids, status__in=[DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]
    ).exclude(channel__in=[Channel.SMS, Channel.WEBHOOK, Channel.EMAIL], address="")
    count = retried.update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )
    if count:
        pending = list(
            Delivery.objects.filter(
                pk__in=ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
            )
        )
        _send_after_commit(pending)
    return count


# ---------------------------------------------------------------- a person's own settings


def _full_clean(instance: ContactMethod | NotificationRule) -> None:
    instance.full_clean(validate_unique=True, validate_constraints=False)


def contact_method_create(
    *, user: User, kind: str, address: str, label: str = "", secret: str = ""
) -> ContactMethod:
    method = ContactMethod(
        user=user, kind=kind, address=address.strip(), label=label, secret=secret
    )
    _full_clean(method)
    if ContactMethod.objects.filter(user=user, kind=kind, address=method.address).exists():
        raise ValidationError({"address": "You have this contact method already."})
    method.save()
    return method


def contact_method_delete(*, method: ContactMethod) -> None:
    method.delete()


@transaction.atomic
def rule_create(
    *,
    user: User,
    importance: str,
    channel: str,
    delay_minutes: int,
    contact_method: ContactMethod | None = None,
) -> NotificationRule:
    """Add a step at the end of the person's rules for `importance`."""
    # Rules of one person are changed one request at a time: lock the person.
    User.objects.select_for_update().filter(pk=user.pk).first()
    last = NotificationRule.objects.filter(user=user, importance=importance).aggregate(
        last=Max("position")
    )["last"]
    rule = NotificationRule(
        user=user,
        importance=importance,
        channel=channel,
        delay_minutes=delay_minutes,
        contact_method=contact_method,
        position=0 if last is None else last + 1,
    )
    _full_clean(rule)
    rule.save()
    return rule


@transaction.atomic
def rule_delete(*, rule: NotificationRule) -> None:
    User.objects.select_for_update().filter(pk=rule.user_id).first()
    rule.delete()


@transaction.atomic
def rule_move(*, rule: NotificationRule, direction: str) -> bool:
    """Swap the rule with its neighbour ("up" or "down"); False when it is at that end."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move a rule up or down."})
    User.objects.select_for_update().filter(pk=rule.user_id).first()
    siblings = NotificationRule.objects.filter(user_id=rule.user_id, importance=rule.importance)
    if direction == "up":
        other = siblings.filter(position__lt=rule.position).order_by("-position").first()
    else:
        other = siblings.filter(position__gt=rule.position).order_by("position").first()
    if other is None:
        return False
    rule.position, other.position = other.position, rule.position
    # The unique position constraint is checked at commit, after both are saved.
    rule.save(update_fields=["position"])
    other.save(update_fields=["position"])
    return True


def desk_mark_read(*, user: User, entry_ids: Iterable[int] | None = None) -> int:
    """Mark the person's desk notifications read (all of them when `entry_ids` is None)."""
    entries = DeskNotification.objects.filter(user=user, read_at__isnull=True)
    if entry_ids is not None:
        entries = entries.filter(pk__in=list(entry_ids))
    return entries.update(read_at=timezone.now())


def send_test(
    *, user: User, importance: str = "default", at: datetime | None = None
) -> Notification:
    """A test notification through the person's own rules."""
    _check_importance(importance)
    now = at or timezone.now()
    with transaction.atomic():
        return notify(
            recipient=user,
            subject="Test notification from Support Desk",
            body="This is how you will be notified when you are paged. Nothing to do.",
            key=f"test/{user.pk}/{importance}/{now.timestamp():.6f}",
            importance=importance,
            source="test",
            source_id=user.pk,
        )
