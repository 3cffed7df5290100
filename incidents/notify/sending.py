"""Sending deliveries: claim one, send it on its channel, record the answer, retry later.

Why nothing is sent twice at once: a delivery is claimed by one conditional UPDATE (pending
and due, or sending past its lease → sending, attempts + 1, leased until now + the lease),
so of two workers (or a worker and the sweeper) only one gets it; the sweeper claims whole
batches with `SELECT … FOR UPDATE SKIP LOCKED`. The result is recorded only by the attempt
that holds the claim, and a delivery once sent is never claimed again. The channel call
itself happens outside any transaction; every request carries the delivery's idempotency
key (Idempotency-Key header, email Message-ID) for receivers that see a retry of a send
whose answer was lost.

Transient failures (HTTP 5xx, 408, 429, timeouts, connection errors, SMTP errors) are
retried after PAGING_DELIVERY_BACKOFF_SECONDS × 4^(attempt-1) (30 s, 2 min, 8 min, …) up to
PAGING_DELIVERY_MAX_ATTEMPTS; anything else (a 4xx, a missing address or gateway) fails
at once with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from incidents.notify.models import Channel, Delivery, DeliveryStatus, DeskNotification

logger = logging.getLogger(__name__)

RESPONSE_LIMIT = 2000
SMS_LIMIT = 1600


@dataclass(frozen=True)
class Outcome:
    ok: bool
    transient: bool = False
    error: str = ""
    response: str = ""
    provider_id: str = ""


# ---------------------------------------------------------------- handing over to workers


def _publish(delivery_id: int, attempt: int | None) -> None:
    from incidents.notify.tasks import send_delivery

    send_delivery.apply_async(kwargs={"delivery_id": delivery_id, "attempt": attempt})


def enqueue_sends(ids: list[int], attempts: list[int] | None = None) -> int:
    """One `notify.send_delivery` task per delivery; returns how many were published. A
    broker that is down loses nothing: the sweeper takes the deliveries when they are due
    (or, if claimed, when their lease ends)."""
    sent = 0
    for index, delivery_id in enumerate(ids):
        try:
            _publish(delivery_id, attempts[index] if attempts is not None else None)
        except Exception:
            logger.warning(
                "delivery %s not enqueued; the sweeper will send it", delivery_id, exc_info=True
            )
            continue
        sent += 1
    return sent


# ---------------------------------------------------------------- claiming

CLAIM_ONE_SQL = """
    UPDATE notify_delivery
    SET status = 'sending', attempts = attempts + 1, next_attempt_at = %(lease)s,
        started_at = %(now)s, updated_at = %(now)s
    WHERE id = %(id)s AND status IN ('pending', 'sending') AND next_attempt_at <= %(now)s
    RETURNING attempts
"""

# A batch of due deliveries, each locked by this sweep alone (SKIP LOCKED), then taken by
# an UPDATE that still requires what the claim saw.
CLAIM_BATCH_SQL = """
    WITH due AS (
        SELECT id FROM notify_delivery
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= %(now)s
        ORDER BY next_attempt_at
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notify_delivery AS d
    SET status = 'sending', attempts = d.attempts + 1, next_attempt_at = %(lease)s,
        started_at = NULL, updated_at = %(now)s
    FROM due
    WHERE d.id = due.id AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= %(now)s
    RETURNING d.id, d.attempts, d.channel
"""

# Deliveries whose workers died mid-send on every attempt: give up on them.
GIVE_UP_SQL = """
    UPDATE notify_delivery
    SET status = 'failed', updated_at = %(now)s,
        last_error = 'No attempt finished within its lease ' || attempts || ' times.'
    WHERE status = 'sending' AND next_attempt_at <= %(now)s AND attempts >= %(max)s
"""


def _lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.PAGING_DELIVERY_LEASE_SECONDS)


def claim(delivery_id: int, *, now: datetime | None = None) -> int | None:
    """Take one due delivery for sending; returns the attempt number, or None when it is
    not due, already sent, or someone else holds it."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_ONE_SQL, {"id": delivery_id, "now": now, "lease": _lease_end(now)})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def claim_due(
    *, now: datetime | None = None, batch: int | None = None
) -> list[tuple[int, int, str]]:
    """Claim a batch of due deliveries in one transaction: (id, attempt, channel) each."""
    now = now or timezone.now()
    params = {
        "now": now,
        "lease": _lease_end(now),
        "batch": batch or settings.PAGING_DELIVERY_SWEEP_BATCH,
        "max": settings.PAGING_DELIVERY_MAX_ATTEMPTS,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(GIVE_UP_SQL, params)
        cursor.execute(CLAIM_BATCH_SQL, params)
        return [(int(i), int(a), str(c)) for i, a, c in cursor.fetchall()]


@dataclass(frozen=True)
class SweepResult:
    claimed: int
    sent_inline: int
    enqueued: int


def sweep(
    *, now: datetime | None = None, batch: int | None = None, time_budget: float | None = None
) -> SweepResult:
    """Claim what is due, batch by batch, and hand it to the workers (desk deliveries are
    sent here: there is no one to call). Run by beat every PAGING_DELIVERY_SWEEP_SECONDS;
    stops after `time_budget` seconds (PAGING_DELIVERY_SWEEP_TIME_BUDGET_SECONDS), and the
    next sweep carries on."""
    size = batch or settings.PAGING_DELIVERY_SWEEP_BATCH
    budget = (
        time_budget
        if time_budget is not None
        else settings.PAGING_DELIVERY_SWEEP_TIME_BUDGET_SECONDS
    )
    started = time.monotonic()
    claimed_count = inline = enqueued = 0
    while True:
        claimed = claim_due(now=now, batch=size)
        desk = [(i, a) for i, a, c in claimed if c == Channel.DESK]
        for delivery_id, attempt in desk:
            deliver(delivery_id=delivery_id, attempt=attempt)
        others = [(i, a) for i, a, c in claimed if c != Channel.DESK]
        enqueued += enqueue_sends([i for i, _ in others], [a for _, a in others])
        claimed_count += len(claimed)
        inline += len(desk)
        if len(claimed) < size or time.monotonic() - started >= budget:
            break
    return SweepResult(claimed=claimed_count, sent_inline=inline, enqueued=enqueued)


# ---------------------------------------------------------------- sending


def deliver(*, delivery_id: int, attempt: int | None = None) -> str | None:
    """Send one delivery (the task's body). With `attempt`, the sweeper claimed it already
    for that attempt; without, it is claimed here if it is due. Returns the status it was
    left in, or None when there was nothing to do."""
    if attempt is None:
        attempt = claim(delivery_id)
        if attempt is None:
            return None
    elif not Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.SENDING, attempts=attempt, started_at__isnull=True
    ).update(started_at=timezone.now()):
        return None  # another copy of the task has it, it was taken again, or it is done
    return send_claimed(delivery_id, attempt)


def send_claimed(delivery_id: int, attempt: int) -> str:
    delivery = Delivery.objects.select_related(
        "notification", "notification__recipient", "contact_method"
    ).get(pk=delivery_id)
    try:
        outcome = _send(delivery)
    except Exception as exc:  # a bug in a channel must not leave the row claimed for good
        logger.exception("delivery %s: sending failed unexpectedly", delivery_id)
        outcome = Outcome(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
    return record(delivery, attempt, outcome)


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=settings.PAGING_DELIVERY_BACKOFF_SECONDS * 4 ** (attempt - 1))


def record(delivery: Delivery, attempt: int, outcome: Outcome) -> str:
    """Write the answer of attempt `attempt`; only the attempt holding the claim may."""
    now = timezone.now()
    rows = Delivery.objects.filter(pk=delivery.pk)
    common: dict[str, Any] = {
        "updated_at": now,
        "provider_response": outcome.response[:RESPONSE_LIMIT],
        "provider_id": outcome.provider_id[:200],
    }
    if outcome.ok:
        # Sent is the truth whoever holds the claim now: nothing may send it again.
        rows.filter(status__in=[DeliveryStatus.SENDING, DeliveryStatus.PENDING]).update(
            status=DeliveryStatus.SENT, sent_at=now, last_error="", next_attempt_at=now, **common
        )
        logger.info("delivery %s sent (%s, attempt %s)", delivery.pk, delivery.channel, attempt)
        return "sent"
    retry = outcome.transient and attempt < settings.PAGING_DELIVERY_MAX_ATTEMPTS
    status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
    rows.filter(status=DeliveryStatus.SENDING, attempts=attempt).update(
        status=status,
        next_attempt_at=now + backoff(attempt) if retry else now,
        last_error=outcome.error[:RESPONSE_LIMIT],
        **common,
    )
    logger.warning(
        "delivery %s (%s, attempt %s) failed%s: %s",
        delivery.pk,
        delivery.channel,
        attempt,
        "; will retry" if retry else "",
        outcome.error,
    )
    return str(status.value)


def _send(delivery: Delivery) -> Outcome:
    if delivery.channel == Channel.DESK:
        return _send_desk(delivery)
    if delivery.channel == Channel.EMAIL:
        return _send_email(delivery)
    if delivery.channel == Channel.WEBHOOK:
        return _send_webhook(delivery)
    if delivery.channel == Channel.SMS:
        return _send_sms(delivery)
    return Outcome(ok=False, error=f"Unknown channel {delivery.channel!r}.")


def actions_text(actions: dict[str, str]) -> str:
    return "\n".join(f"{label}: {url}" for label, url in actions.items())


def _send_desk(delivery: Delivery) -> Outcome:
    notification = delivery.notification
    if notification.recipient_id is None:
        return Outcome(ok=False, error="A desk notification needs a recipient.")
    DeskNotification.objects.get_or_create(
        delivery=delivery,
        defaults={"user_id": notification.recipient_id, "notification": notification},
    )
    return Outcome(ok=True)


def message_id(key: str) -> str:
    """The email's Message-ID, the same for every attempt of one delivery."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    domain = urlsplit(settings.SITE_URL).hostname or "supportdesk.invalid"
    return f"<notify.{digest}@{domain}>"


def _send_email(delivery: Delivery) -> Outcome:
    """Through the desk's mail outbox (tickets.mail): one OutboundMail per delivery, with a
    Message-ID the desk stores, sent at once here; a transient SMTP error leaves it queued
    for this delivery's next attempt (or the mail sweeper, whichever comes first)."""
    from tickets.mail.models import MailKind, OutboundStatus
    from tickets.mail.outbound import mail_queue, outbound_send

    notification = delivery.notification
    recipient = notification.recipient
    (mail,) = mail_queue(
        kind=MailKind.PAGING,
        dedup_key=f"notify:{delivery.idempotency_key}",
        recipients=[(delivery.address, recipient)],
        context={
            "subject": notification.subject,
            "body": notification.body,
            "actions": actions_text(notification.links) if notification.actions else "",
        },
        dispatch=False,
        message_id=message_id(delivery.idempotency_key),
    )
    if mail.status == OutboundStatus.SUPPRESSED:
        return Outcome(ok=False, error=f"Not sent: {mail.reason}")
    result = outbound_send(mail_id=mail.pk, any_time=True)
    if result.status == OutboundStatus.SENT:
        return Outcome(ok=True, provider_id=mail.message_id)
    if result.status == OutboundStatus.FAILED:
        mail.refresh_from_db()
        return Outcome(ok=False, error=result.error or mail.last_error)
    return Outcome(ok=False, transient=True, error=result.error or f"Mail {result.status}.")


def sign(body: bytes, secret: str) -> str:
    """The X-Supportdesk-Signature header: HMAC-SHA256 of the raw body, in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_payload(delivery: Delivery) -> dict[str, Any]:
    """What a person's webhook receives: the notification and its action links."""
    notification = delivery.notification
    recipient = notification.recipient
    return {
        "type": "notification",
        "notification": {
            "id": notification.pk,
            "key": notification.key,
            "subject": notification.subject,
            "body": notification.body,
            "importance": notification.importance,
            "source": notification.source,
            "source_id": notification.source_id,
            "actions": notification.links,
            "created_at": notification.created_at.isoformat(),
        },
        "recipient": recipient.email if recipient is not None else None,
        "delivery": delivery.idempotency_key,
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.PAGING_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        return Outcome(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
    except requests.RequestException as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    answer = f"HTTP {response.status_code}: {response.text[:RESPONSE_LIMIT]}"
    provider_id = response.headers.get("X-Request-Id", "")
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for field in ("id", "message_id", "sid"):
            if data.get(field):
                provider_id = str(data[field])
                break
    if 200 <= response.status_code < 300:
        return Outcome(ok=True, response=answer, provider_id=provider_id)
    transient = response.status_code >= 500 or response.status_code in (408, 429)
    return Outcome(
        ok=False,
        transient=transient,
        error=f"The receiver answered HTTP {response.status_code}.",
        response=answer,
        provider_id=provider_id,
    )


def _headers(delivery: Delivery) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "SupportDesk-Notify/1",
        "X-Supportdesk-Timestamp": str(int(timezone.now().timestamp())),
        "Idempotency-Key": delivery.idempotency_key,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def _send_webhook(delivery: Delivery) -> Outcome:
    payload = delivery.payload if delivery.payload is not None else webhook_payload(delivery)
    body = encode(payload)
    headers = _headers(delivery)
    method = delivery.contact_method
    secret = (
        delivery.signing_secret
        or (method.secret if method is not None else "")
        or settings.PAGING_WEBHOOK_SECRET
    )
    if secret:
        headers["X-Supportdesk-Signature"] = sign(body, secret)
    return _post(delivery.address, body, headers)


def sms_text(delivery: Delivery) -> str:
    notification = delivery.notification
    parts = [notification.subject]
    if notification.actions:
        parts.append(actions_text(notification.links))
    return "\n".join(parts)[:SMS_LIMIT]


def _send_sms(delivery: Delivery) -> Outcome:
    url = settings.PAGING_SMS_GATEWAY_URL
    if not url:
        return Outcome(
            ok=False, error="No SMS gateway is configured (PAGING_SMS_GATEWAY_URL is empty)."
        )
    body = encode({"to": delivery.address, "body": sms_text(delivery)})
    headers = _headers(delivery)
    if settings.PAGING_SMS_GATEWAY_TOKEN:
        headers["Authorization"] = f"Bearer {settings.PAGING_SMS_GATEWAY_TOKEN}"
    return _post(url, body, headers)
