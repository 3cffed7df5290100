"""Outgoing mail: queued in the outbox table, sent by a worker, exactly once per cause.

`mail_queue(...)` renders the kind's template, decides the headers and writes one
`OutboundMail` row per recipient in the caller's transaction. The row is unique on
(dedup_key, recipient), so a reaction that runs twice, or a paging delivery retried, adds
nothing. After commit the row's id goes to the `mail.send` task; a lost task is picked up
by the `mail.sweep` beat task.

`outbound_send(mail_id=...)` claims the row with a conditional UPDATE (queued and due, or
sending past its lease -> sending, attempts + 1), so of two workers only one sends it,
then sends it over SMTP outside any transaction and records the answer: sent, queued
again with backoff after a transient error (SMTP 4xx, connection errors), or failed.

Headers: a Message-ID the desk makes (`make_msgid` with MAIL_DOMAIN), recorded in
MailThread as `out` so that replies thread; In-Reply-To/References from the ticket's
thread (every Message-ID received or sent on it); Reply-To the community's support
address (else MAIL_REPLY_TO); the `[SD-n]` tag in the subject, once; and
`Auto-Submitted: auto-generated` on automatic mail (not on an agent's reply).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template import Context, Engine
from django.utils import timezone

from communities.models import Membership
from tickets.mail.models import (
    MailKind,
    MailPreference,
    MailTemplate,
    MailThread,
    OutboundMail,
    OutboundStatus,
    SupportAddress,
)
from tickets.models import Ticket

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "tickets" / "email"
# Mail a person may turn off on their profile; the others answer something they did.
OPTIONAL_KINDS = (
    MailKind.REQUEST_RECEIVED,
    MailKind.APPROVAL_REQUESTED,
    MailKind.APPROVED,
    MailKind.DECLINED,
    MailKind.STAFF_REPLY,
    MailKind.RESOLVED,
    MailKind.MERGED,
    MailKind.THRESHOLD_CROSSED,
    MailKind.BUDGET_NOTICE,
    MailKind.WEEKLY_SUMMARY,
    MailKind.MONTHLY_SUMMARY,
)
# The reports' mail goes to agents (threshold crossings, budget notices, the weekly summary)
# or to representatives (budget notices, their community's monthly summary) only.
STAFF_KINDS = (MailKind.THRESHOLD_CROSSED, MailKind.BUDGET_NOTICE, MailKind.WEEKLY_SUMMARY)
REPRESENTATIVE_KINDS = (MailKind.BUDGET_NOTICE, MailKind.MONTHLY_SUMMARY)
MAX_REFERENCES = 20


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def template_default(kind: str) -> Rendered:
    """The template shipped with the desk (templates/tickets/email/<kind>.*)."""

    def read(suffix: str) -> str:
        path = TEMPLATE_DIR / f"{kind}{suffix}"
        return path.read_text() if path.exists() else ""

    return Rendered(
        subject=read(".subject.txt").strip(), text=read(".txt"), html=read(".html").strip()
    )


@cache
def _engine(*, autoescape: bool) -> Engine:
    # A separate engine with nothing to load: a template edited in the admin can use the
    # built-in tags and filters on the values it is given, and reach nothing else.
    return Engine(
        dirs=[],
        app_dirs=False,
        loaders=[("django.template.loaders.locmem.Loader", {})],
        autoescape=autoescape,
        libraries={},
    )


def render_template(kind: str, context: Mapping[str, Any]) -> Rendered:
    """Render the kind's template (the admin's, else the default) with plain values only."""
    stored = MailTemplate.objects.filter(kind=kind).first()
    source = (
        Rendered(subject=stored.subject, text=stored.text, html=stored.html)
        if stored is not None
        else template_default(kind)
    )
    plain = Context(dict(context), autoescape=False)
    subject = _engine(autoescape=False).from_string(source.subject).render(plain)
    text = _engine(autoescape=False).from_string(source.text).render(plain)
    html = ""
    if source.html.strip():
        html = _engine(autoescape=True).from_string(source.html).render(Context(dict(context)))
    return Rendered(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def mail_template_reset(*, kind: str) -> MailTemplate:
    """Put the shipped default back into the kind's template (the admin's "reset")."""
    default = template_default(kind)
    template, _ = MailTemplate.objects.update_or_create(
        kind=kind,
        defaults={
            "subject": default.subject,
            "text": default.text,
            "html": default.html,
            "updated_at": timezone.now(),
        },
    )
    return template


def mail_templates_ensure() -> int:
    """A row for every kind that has none, holding the default, so the admin can edit it."""
    missing = set(MailKind.values) - set(MailTemplate.objects.values_list("kind", flat=True))
    for kind in sorted(missing):
        mail_template_reset(kind=kind)
    return len(missing)


# ---------------------------------------------------------------- context


def ticket_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}/portal/tickets/{ticket.reference}/"


def person_values(user: Any) -> dict[str, str]:
    if user is None:
        return {"name": "", "first_name": "", "email": ""}
    name = user.display_name
    return {"name": name, "first_name": user.first_name or name, "email": user.email}


def ticket_values(ticket: Ticket) -> dict[str, Any]:
    """What templates may show of a ticket: plain values, never the model."""
    return {
        "ticket": {
            "reference": ticket.reference,
            "subject": ticket.subject,
            "description": ticket.description,
            "status": ticket.status,
            "url": ticket_url(ticket),
        },
        "requester": person_values(ticket.requester),
        "community": {"name": ticket.community.name},
    }


# ---------------------------------------------------------------- queueing


def mail_domain() -> str:
    if settings.MAIL_DOMAIN:
        return str(settings.MAIL_DOMAIN)
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "supportdesk.invalid"


def desk_addresses() -> set[str]:
    own = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    if settings.MAIL_REPLY_TO:
        own.add(parseaddr(settings.MAIL_REPLY_TO)[1].lower())
    own.update(SupportAddress.objects.values_list("address", flat=True))
    return own


def reply_to_for(ticket: Ticket | None) -> str:
    if ticket is not None:
        address = (
            SupportAddress.objects.filter(community_id=ticket.community_id, active=True)
            .order_by("pk")
            .values_list("address", flat=True)
            .first()
        )
        if address:
            return address
    return str(settings.MAIL_REPLY_TO or settings.DEFAULT_FROM_EMAIL)


def thread_of(ticket: Ticket | None) -> list[str]:
    """The ticket's Message-IDs, oldest first (the last MAX_REFERENCES)."""
    if ticket is None:
        return []
    ids = list(
        MailThread.objects.filter(ticket=ticket)
        .order_by("-created_at", "-pk")
        .values_list("message_id", flat=True)[:MAX_REFERENCES]
    )
    return list(reversed(ids))


def _suppression(kind: str, address: str, user: Any, own: set[str]) -> str:
    if not address or "@" not in address:
        return "No address to send to."
    if address in own:
        return "The desk never mails its own addresses."
    if user is not None and kind in OPTIONAL_KINDS:
        muted = MailPreference.objects.filter(user=user).values_list("muted", flat=True).first()
        if muted and kind in muted:
            return "The recipient turned this notification off."
    return ""


def mail_queue(
    *,
    kind: str,
    dedup_key: str,
    recipients: list[tuple[str, Any]],
    context: Mapping[str, Any],
    ticket: Ticket | None = None,
    automatic: bool = True,
    dispatch: bool = True,
    message_id: str = "",
) -> list[OutboundMail]:
    """Queue the kind's mail to each (address, user or None), once per cause and address.

    Returns the rows (existing ones for a cause seen before). Suppressed rows are kept
    with their reason. With `dispatch`, the new queued rows go to the `mail.send` task
    after commit. `message_id` is for a single recipient whose caller already promised
    one (paging's deliveries)."""
    own = desk_addresses()
    thread = thread_of(ticket)
    reply_to = reply_to_for(ticket)
    rows: list[OutboundMail] = []
    fresh: list[int] = []
    dedup_key = f"{kind}:{dedup_key}"[:200]
    for raw_address, user in recipients:
        address = parseaddr(raw_address)[1].strip().lower()
        existing = OutboundMail.objects.filter(dedup_key=dedup_key, recipient=address).first()
        if existing is not None:
            rows.append(existing)
            continue
        values = {
            **context,
            "recipient": person_values(user) if user is not None else {
                "name": "", "first_name": "", "email": address,
            },
        }  # fmt: skip
        rendered = render_template(kind, values)
        subject = rendered.subject
        if ticket is not None:
            from tickets.mail.services import subject_with_reference

            subject = subject_with_reference(subject, ticket)
        reason = _suppression(kind, address, user, own)
        mail = OutboundMail(
            kind=kind,
            dedup_key=dedup_key,
            recipient=address or "(none)",
            ticket=ticket,
            subject=subject[:998],
            text=rendered.text,
            html=rendered.html,
            message_id=message_id or make_msgid(domain=mail_domain()),
            in_reply_to=thread[-1] if thread else "",
            references=" ".join(thread),
            reply_to=reply_to,
            auto_submitted=automatic,
            status=OutboundStatus.SUPPRESSED if reason else OutboundStatus.QUEUED,
            reason=reason,
        )
        try:
            with transaction.atomic():
                mail.save(force_insert=True)
                if ticket is not None and not reason:
                    MailThread.objects.create(
                        message_id=mail.message_id,
                        ticket=ticket,
                        direction=MailThread.Direction.OUT,
                    )
        except IntegrityError:
            # Queued by someone else a moment ago: that row stands.
            rows.append(OutboundMail.objects.get(dedup_key=mail.dedup_key, recipient=address))
            continue
        rows.append(mail)
        if not reason:
            fresh.append(mail.pk)
    if dispatch and fresh:
        transaction.on_commit(lambda: enqueue_sends(fresh), robust=True)
    return rows


def enqueue_sends(ids: list[int]) -> int:
    """One `mail.send` task per mail; a broker that is down loses nothing (the sweeper)."""
    from tickets.mail.tasks import send_mail

    sent = 0
    for mail_id in ids:
        try:
            send_mail.apply_async(kwargs={"mail_id": mail_id})
        except Exception:  # noqa: BLE001 - any broker error: the sweeper sends it later
            logger.warning("mail %s not enqueued; the sweeper will send it", mail_id)
            continue
        sent += 1
    return sent


# ---------------------------------------------------------------- sending

CLAIM_SQL = """
    UPDATE mail_outboundmail
    SET status = 'sending', attempts = attempts + 1, next_attempt_at = %(lease)s
    WHERE id = %(id)s AND (
        (status = 'queued' AND (next_attempt_at <= %(now)s OR %(any_time)s))
        OR (status = 'sending' AND next_attempt_at <= %(now)s)
    )
    RETURNING attempts
"""


@dataclass(frozen=True)
class SendResult:
    status: str
    retry_in: float | None = None  # seconds, when a transient error left it queued
    error: str = ""


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=settings.MAIL_BACKOFF_SECONDS * 2 ** (attempt - 1))


def _claim(mail_id: int, *, now: datetime, any_time: bool) -> int | None:
    from django.db import connection

    lease = now + timedelta(seconds=settings.MAIL_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"id": mail_id, "now": now, "lease": lease, "any_time": any_time})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def build_message(mail: OutboundMail) -> EmailMultiAlternatives:
    headers = {
        "Message-ID": mail.message_id,
        "Reply-To": mail.reply_to,
    }
    if mail.in_reply_to:
        headers["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        headers["References"] = mail.references
    if mail.auto_submitted:
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    if mail.ticket_id is not None:
        headers["X-Supportdesk-Ticket"] = f"{settings.TICKET_REFERENCE_PREFIX}-{mail.ticket_id}"
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.recipient],
        headers=headers,
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    return message


def _transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def outbound_send(*, mail_id: int, any_time: bool = False) -> SendResult:
    """Send one queued mail if it is due (or, with `any_time`, whenever it is queued)."""
    now = timezone.now()
    attempt = _claim(mail_id, now=now, any_time=any_time)
    if attempt is None:
        status = OutboundMail.objects.filter(pk=mail_id).values_list("status", flat=True).first()
        return SendResult(status=status or "missing")
    mail = OutboundMail.objects.get(pk=mail_id)
    rows = OutboundMail.objects.filter(pk=mail_id, status=OutboundStatus.SENDING, attempts=attempt)
    try:
        message = build_message(mail)
        message.connection = get_connection(timeout=settings.MAIL_SMTP_TIMEOUT_SECONDS)
        message.send()
    except Exception as exc:  # noqa: BLE001 - every answer is recorded
        error = f"{type(exc).__name__}: {exc}"[:2000]
        retry = _transient(exc) and attempt < settings.MAIL_MAX_ATTEMPTS
        if retry:
            wait = backoff(attempt)
            rows.update(
                status=OutboundStatus.QUEUED,
                next_attempt_at=timezone.now() + wait,
                last_error=error,
            )
            logger.warning("mail %s attempt %s failed, will retry: %s", mail_id, attempt, error)
            return SendResult(OutboundStatus.QUEUED, retry_in=wait.total_seconds(), error=error)
        rows.update(status=OutboundStatus.FAILED, last_error=error)
        logger.warning("mail %s failed for good: %s", mail_id, error)
        return SendResult(OutboundStatus.FAILED, error=error)
    OutboundMail.objects.filter(
        pk=mail_id, status__in=[OutboundStatus.SENDING, OutboundStatus.QUEUED]
    ).update(status=OutboundStatus.SENT, sent_at=timezone.now(), last_error="")
    return SendResult(OutboundStatus.SENT)


def outbound_sweep(*, batch: int = 200) -> int:
    """Hand the workers what is due and not on its way: queued mail whose task was lost
    (or never published), retries that are due, and sends whose worker died (lease over);
    mail out of attempts is failed."""
    now = timezone.now()
    OutboundMail.objects.filter(
        status=OutboundStatus.SENDING,
        next_attempt_at__lte=now,
        attempts__gte=settings.MAIL_MAX_ATTEMPTS,
    ).update(status=OutboundStatus.FAILED, last_error="No attempt finished within its lease.")
    grace = now - timedelta(seconds=settings.MAIL_SWEEP_GRACE_SECONDS)
    due = list(
        OutboundMail.objects.filter(
            status__in=[OutboundStatus.QUEUED, OutboundStatus.SENDING], next_attempt_at__lte=grace
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    return enqueue_sends(due)


def outbound_requeue(*, ids: list[int]) -> int:
    """Give failed mail another round of attempts (the admin's action)."""
    failed = list(
        OutboundMail.objects.filter(pk__in=ids, status=OutboundStatus.FAILED).values_list(
            "pk", flat=True
        )
    )
    OutboundMail.objects.filter(pk__in=failed).update(
        status=OutboundStatus.QUEUED, attempts=0, next_attempt_at=timezone.now()
    )
    if failed:
        transaction.on_commit(lambda: enqueue_sends(failed), robust=True)
    return len(failed)


def outbound_bounced(*, message_ids: list[str], detail: str) -> int:
    """A bounce names mail the desk sent: mark those deliveries failed."""
    if not message_ids:
        return 0
    return OutboundMail.objects.filter(
        message_id__in=message_ids,
        status__in=[OutboundStatus.SENT, OutboundStatus.SENDING, OutboundStatus.QUEUED],
    ).update(status=OutboundStatus.FAILED, last_error=f"Bounced: {detail}"[:2000])


def mail_preference_set(*, user: Any, muted: list[str]) -> MailPreference:
    """The notification mails `user` does not want (only the optional kinds count)."""
    kept = sorted(kind for kind in set(muted) if kind in OPTIONAL_KINDS)
    preference, _ = MailPreference.objects.update_or_create(
        user=user, defaults={"muted": kept, "updated_at": timezone.now()}
    )
    return preference


def optional_kinds_for(*, user: Any) -> list[str]:
    """The notification mails `user` can get and so may turn off, in OPTIONAL_KINDS' order."""
    offered = set(OPTIONAL_KINDS) - set(STAFF_KINDS) - set(REPRESENTATIVE_KINDS)
    if user.is_staff:
        offered |= set(STAFF_KINDS)
    if Membership.objects.filter(user=user, role=Membership.Role.REPRESENTATIVE).exists():
        offered |= set(REPRESENTATIVE_KINDS)
    return [kind.value for kind in OPTIONAL_KINDS if kind in offered]


def muted_kinds(*, user: Any) -> list[str]:
    muted = MailPreference.objects.filter(user=user).values_list("muted", flat=True).first()
    return list(muted or [])
