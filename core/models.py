"""People, the event outbox and idempotency keys: what every app below the URLs needs."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def values_check(
    field: str, values: list[str], name: str, *, blank: bool = False
) -> models.CheckConstraint:
    """A check constraint that `field` holds one of `values` (or "" with `blank`): the
    database's copy of a field's choices."""
    allowed = [*values, ""] if blank else values
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": allowed}), name=name)


class UserManager(DjangoUserManager["User"]):
    """Users sign in with their email address; there is no username."""

    def _create_user_object(self, email: str, password: str | None, **extra_fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.password = ""
        user.set_password(password)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        user = self._create_user_object(email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are unique whatever their case (user_email_unique_ci), so sign-in ignores it.
        return self.get(email__iexact=username)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractUser):
    """Agents (staff) and community members alike. Staff see every community."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class Event(models.Model):
    """Something happened that other apps react to (the outbox).

    Written in the same transaction as the change it describes, so a reaction is never
    lost: supportdesk/events.py lists the reactions, and each becomes an EventDelivery.
    """

    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    community_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["name", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class EventDelivery(models.Model):
    """One reaction to one event: run at least once, and recorded as done exactly once."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Looked up by event through the index of `delivery_once_per_handler` (event first).
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    handler = models.CharField(max_length=200)
    queue = models.CharField(max_length=50, default="default")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "event deliveries"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["event", "handler"], name="delivery_once_per_handler"),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "done", "failed"]),
                name="delivery_state_valid",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="delivery_pending_due",
            ),
            # A batch takes the waiting deliveries of one handler, oldest first.
            models.Index(
                fields=["handler", "id"],
                condition=models.Q(state="pending"),
                name="delivery_pending_by_handler",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handler} for event #{self.event_id} ({self.state})"


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key, replayed for repeats."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"
