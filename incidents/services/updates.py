"""Status updates: posting one (quick: a row, the status, the timeline, the next due time)
and its fan-out in the workers (the affected communities' representatives are notified,
every linked ticket gets the update as a public reply), batched and idempotent per update
and ticket."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from communities.models import Membership
from core.errors import ApplicationError
from core.models import User
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.messages import for_reader
from incidents.models import (
    EntryKind,
    Incident,
    IncidentCommunity,
    IncidentTicket,
    StatusUpdate,
    UpdateReply,
)
from incidents.services.common import definition, locked, record
from incidents.services.lifecycle import _cadence_due
from incidents.states import ACTIVE, Status, can_move

logger = logging.getLogger(__name__)

REPLY_BATCH = 100


def incident_update_post(
    *,
    incident: Incident | int,
    actor: User,
    body: str,
    status: str | None = None,
    key: str = "",
) -> StatusUpdate:
    """Post a public update (and move the status with it). Posting with status `resolved`
    is the final update that resolves the incident. The fan-out runs in the workers after
    commit. Idempotent on `key`."""
    body = (body or "").strip()
    if not body:
        raise InvalidIncidentInput("Write the update.", field="body")
    if not (actor.is_active and actor.is_staff):
        raise InvalidIncidentInput("Only agents post updates.", field="actor")
    with transaction.atomic():
        incident = locked(incident)
        if key:
            existing = StatusUpdate.objects.filter(incident=incident, key=key).first()
            if existing is not None:
                return existing
        status = status or incident.status
        if status not in Status.values:
            raise InvalidIncidentInput(f"Unknown status {status!r}.", field="status")
        if incident.status not in ACTIVE:
            raise InvalidTransition(
                f"The incident is {incident.get_status_display().lower()}: updates are for "
                "incidents in progress.",
                field="status",
            )
        if status != incident.status and not can_move(incident.status, status):
            raise InvalidTransition(f"Cannot move to {status}.", field="status")
        now = timezone.now()
        update = StatusUpdate.objects.create(
            incident=incident, status=status, body=body, author=actor, created_at=now, key=key,
            tickets_total=IncidentTicket.objects.filter(incident=incident).count(),
        )  # fmt: skip
        if status != incident.status:
            previous = incident.status
            incident.status = status
            record(
                incident, EntryKind.STATUS, Status(status).label, actor=actor, public=True,
                at=now, status=status, previous=previous,
            )  # fmt: skip
        record(
            incident, EntryKind.UPDATE, body, actor=actor, public=True, at=now,
            update_id=update.pk,
        )  # fmt: skip
        if incident.first_public_update_at is None:
            incident.first_public_update_at = now
        if status == Status.RESOLVED:
            incident.resolved_at = now
            incident.next_update_due_at = None
            sev = definition(incident.severity)
            if sev.postmortem_required:
                incident.postmortem_due_at = now + timedelta(hours=sev.postmortem_due_hours)
        else:
            incident.next_update_due_at = _cadence_due(incident, now)
        incident.updated_at = now
        incident.save()
        update_id = update.pk
        transaction.on_commit(lambda: _enqueue_fan_out(update_id), robust=True)
    return update


def _enqueue_fan_out(update_id: int) -> None:
    from incidents.tasks import fan_out_update

    try:
        fan_out_update.delay(update_id)
    except Exception:  # the broker is down: the sweeper hands the fan-out out later
        logger.warning("fan-out of update %s not enqueued", update_id, exc_info=True)


def _representatives(incident_id: int) -> list[tuple[User, int, str]]:
    community_ids = IncidentCommunity.objects.filter(incident_id=incident_id).values("community_id")
    rows = Membership.objects.filter(
        community_id__in=community_ids, role=Membership.Role.REPRESENTATIVE, user__is_active=True
    ).select_related("user", "community")
    return [(m.user, m.community_id, m.community.name) for m in rows]


def update_fan_out(*, update_id: int) -> list[list[int]]:
    """Notify the representatives (once each: the key) and make one reply row per linked
    ticket (once: the unique constraint); returns the unsent replies in batches, for
    update_replies_send. Running it again makes nothing twice."""
    from incidents.notify.services import notify

    update = StatusUpdate.objects.select_related("incident").filter(pk=update_id).first()
    if update is None or update.fanout_done_at is not None:
        return []
    incident = update.incident
    with transaction.atomic():
        for user, community_id, community_name in _representatives(incident.pk):
            notify(
                recipient=user,
                subject=f"{incident.reference} {incident.title}: {update.get_status_display()}",
                body=for_reader(update.body, community_name),
                key=f"incident-update/{update.pk}/{user.pk}/{community_id}",
                source="incident",
                source_id=incident.pk,
            )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {UpdateReply._meta.db_table} (update_id, ticket_id, error)
                SELECT %s, ticket_id, '' FROM {IncidentTicket._meta.db_table}
                WHERE incident_id = %s
                ON CONFLICT DO NOTHING""",  # noqa: S608 - table names are ours
                [update.pk, incident.pk],
            )
    unsent = list(
        UpdateReply.objects.filter(update_id=update.pk, sent_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not unsent:
        _finish(update.pk)
    return [unsent[i : i + REPLY_BATCH] for i in range(0, len(unsent), REPLY_BATCH)]


def update_replies_send(
    *, update_id: int, reply_ids: Sequence[int], time_budget: float | None = None
) -> int:
    """Post the update on each linked ticket of the batch as a public reply, each once (a
    reply taken by another worker is skipped); returns how many were sent. With
    `time_budget` (seconds), stops once it is spent: replies_left says what is left."""
    from tickets.models import Channel, Message
    from tickets.services.conversation import message_add

    update = StatusUpdate.objects.select_related("author").filter(pk=update_id).first()
    if update is None:
        return 0
    sent = 0
    started = time.monotonic()
    for reply_id in reply_ids:
        if time_budget is not None and time.monotonic() - started > time_budget:
            break
        with transaction.atomic():
            reply = (
                UpdateReply.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("ticket__community")
                .filter(pk=reply_id, sent_at__isnull=True)
                .first()
            )
            if reply is None:
                continue
            now = timezone.now()
            try:
                with transaction.atomic():
                    message = message_add(
                        ticket=reply.ticket, author=update.author,
                        body=for_reader(update.body, reply.ticket.community.name),
                        kind=Message.Kind.PUBLIC, channel=Channel.DESK,
                    )  # fmt: skip
            except ApplicationError as error:
                logger.warning(
                    "Update %s not posted on ticket %s: %s", update_id, reply.ticket_id, error
                )
                reply.error = error.message
            else:
                reply.message = message
                sent += 1
            reply.sent_at = now
            reply.save(update_fields=["message", "sent_at", "error"])
    if not UpdateReply.objects.filter(update_id=update_id, sent_at__isnull=True).exists():
        _finish(update_id)
    return sent


def _finish(update_id: int) -> None:
    StatusUpdate.objects.filter(pk=update_id, fanout_done_at__isnull=True).update(
        fanout_done_at=timezone.now()
    )


def stalled_fan_outs(*, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Updates whose fan-out has not finished this long after posting (a lost task)."""
    since = timezone.now() - older_than
    return list(
        StatusUpdate.objects.filter(fanout_done_at__isnull=True, created_at__lt=since)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )


def replies_left(*, update_id: int, reply_ids: Sequence[int]) -> list[int]:
    """The replies of the batch not sent yet."""
    return list(
        UpdateReply.objects.filter(
            update_id=update_id, pk__in=list(reply_ids), sent_at__isnull=True
        )
        .order_by("id")
        .values_list("pk", flat=True)
    )
