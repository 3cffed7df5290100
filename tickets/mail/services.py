"""Mail intake: one service for every source (the command, the HTTP endpoint, IMAP later).

`mail_intake(raw, source=…)` records the message once per Message-ID and decides what it
becomes, in this order:

1. the loop and noise guard (bounces, automatic replies, lists) -> refused, no answer;
2. no usable sender -> refused; too many mails from one sender this hour -> held;
3. the sender (case-insensitive, "+tag" understood) -> a user; unknown -> held (or refused,
   MAIL_UNKNOWN_SENDER);
4. threading: In-Reply-To / References against every Message-ID the desk received or sent,
   then the `[SD-1042]` tag in the subject; never the subject text. A ticket the sender may
   not see is refused exactly as a missing one (tenancy: the same answer as a 404);
5. otherwise a new ticket in the community of the recipient support address, else the
   sender's only community, through tickets' own ticket_open (representatives open, other
   members wait for approval).

Nothing here raises for a bad message: what cannot be processed is quarantined with the
error, and `inbound_retry` runs it again.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from communities.models import Community, Membership
from communities.services import membership_add
from core.errors import ApplicationError, NotFound
from core.models import User
from tickets.errors import TicketClosed
from tickets.mail.guard import noise_reason
from tickets.mail.models import (
    InboundMessage,
    MailThread,
    OutboundMail,
    Reason,
    Source,
    Status,
    SupportAddress,
)
from tickets.mail.parsing import MailAttachment, ParsedMail, message_id_of, normalize_address
from tickets.mail.parsing import parse_mail as _parse
from tickets.models import Channel, Ticket
from tickets.selectors import actor_roles
from tickets.services.attachments import attachment_check
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open

logger = logging.getLogger(__name__)

NO_TEXT = "(The message had no text.)"
# A ticket's text is searched (a tsvector, at most 1 MB); the whole message stays in the row.
BODY_MAX_CHARS = 100_000
TRUNCATED = "\n\n[Truncated: the whole message is kept with the received mail.]"
NO_SUBJECT = "(no subject)"


class _Outcome(Exception):  # noqa: N818  # control flow inside the intake transaction
    def __init__(self, status: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def mail_intake(raw: bytes, *, source: str) -> InboundMessage:
    """Take one raw message; return its InboundMessage (the existing one if seen before)."""
    if source not in Source.values:
        raise ValueError(f"Unknown mail source {source!r}.")
    error = ""
    try:
        parsed: ParsedMail | None = _parse(raw)
        message_id = parsed.message_id if parsed else ""
    except Exception as exc:  # noqa: BLE001  # a message the parser cannot read is quarantined
        parsed = None
        message_id = _fallback_message_id(raw)
        error = f"{type(exc).__name__}: {exc}"
    seen = InboundMessage.objects.filter(message_id=message_id).first()
    if seen is not None:
        return seen
    inbound = InboundMessage(raw=raw, message_id=message_id, source=source)
    if parsed is None:
        return _quarantine(inbound, error=error)
    _describe(inbound, parsed)
    try:
        with transaction.atomic():
            _decide(inbound, parsed)
            inbound.save()
    except IntegrityError:
        # Another process recorded the same Message-ID first: that one stands.
        seen = InboundMessage.objects.filter(message_id=message_id).first()
        if seen is not None:
            return seen
        return _quarantine(inbound, error="IntegrityError while recording the message")
    except Exception as exc:  # noqa: BLE001  # never stop the caller (a poller, a pipe)
        logger.exception("mail intake failed for %s", message_id)
        return _quarantine(inbound, error=f"{type(exc).__name__}: {exc}")
    return inbound


def inbound_retry(*, inbound: InboundMessage) -> InboundMessage:
    """Run a quarantined message through intake again; it keeps its row and its Message-ID."""
    with transaction.atomic():
        inbound = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
        if inbound.status != Status.QUARANTINED:
            return inbound
        raw = bytes(inbound.raw)
        try:
            parsed = _parse(raw)
            _describe(inbound, parsed)
            with transaction.atomic():
                _decide(inbound, parsed)
                inbound.error = ""
                inbound.save()
        except Exception as exc:  # noqa: BLE001
            inbound.status, inbound.reason = Status.QUARANTINED, Reason.PARSE_ERROR
            inbound.error = f"{type(exc).__name__}: {exc}"
            inbound.attempts += 1
            InboundMessage.objects.filter(pk=inbound.pk).update(
                error=inbound.error, attempts=inbound.attempts
            )
            inbound.refresh_from_db()
    return inbound


def _fallback_message_id(raw: bytes) -> str:
    import email
    from email import policy

    try:
        return message_id_of(email.message_from_bytes(raw, policy=policy.compat32), raw)
    except Exception:  # noqa: BLE001
        return message_id_of(email.message_from_bytes(b""), raw)


def _quarantine(inbound: InboundMessage, *, error: str) -> InboundMessage:
    inbound.status, inbound.reason = Status.QUARANTINED, Reason.PARSE_ERROR
    inbound.detail, inbound.error = "The message could not be processed.", error[:10000]
    inbound.ticket, inbound.ticket_message = None, None
    try:
        with transaction.atomic():
            inbound.save(force_insert=True)
    except IntegrityError:
        seen = InboundMessage.objects.filter(message_id=inbound.message_id).first()
        if seen is None:
            raise
        return seen
    return inbound


def _describe(inbound: InboundMessage, parsed: ParsedMail) -> None:
    inbound.from_address = parsed.from_address[:320]
    inbound.recipients = parsed.recipients
    inbound.subject = parsed.subject


def _decide(inbound: InboundMessage, parsed: ParsedMail) -> None:
    """Set the outcome on `inbound` (unsaved), writing the ticket or reply it makes."""
    try:
        _act(inbound, parsed)
    except _Outcome as outcome:
        inbound.status, inbound.reason, inbound.detail = (
            outcome.status,
            outcome.reason,
            outcome.detail,
        )


def _act(inbound: InboundMessage, parsed: ParsedMail) -> None:
    noise = noise_reason(parsed)
    if noise is not None:
        if noise[0] == Reason.BOUNCE:
            _mark_bounced(inbound, parsed, noise[1])
        raise _Outcome(Status.REFUSED, *noise)
    if settings.MAIL_REFUSE_DMARC_FAIL and dmarc_failed(parsed):
        raise _Outcome(
            Status.REFUSED,
            Reason.DMARC_FAIL,
            "The receiving server's Authentication-Results says dmarc=fail.",
        )
    if not parsed.from_address:
        raise _Outcome(Status.REFUSED, Reason.NO_SENDER, "The message has no usable From.")
    address, base = normalize_address(parsed.from_address)
    _refuse_if_flooding(address)
    user = _sender(address, base)
    if user is None:
        if settings.MAIL_UNKNOWN_SENDER == "refuse":
            _answer_unknown_sender(parsed, address)
            raise _Outcome(
                Status.REFUSED,
                Reason.UNKNOWN_SENDER,
                f"No person has the address {address}; a polite refusal was sent.",
            )
        raise _Outcome(Status.HELD, Reason.UNKNOWN_SENDER, f"No person has the address {address}.")
    files, refused_files = _check_files(parsed.attachments)
    ticket = _thread(parsed)
    if ticket is not None:
        _reply(inbound, parsed, user=user, ticket=ticket, files=files, refused=refused_files)
        return
    if _reference_tags(parsed.subject):
        # The subject names a ticket this person cannot see (or none): same answer as a 404.
        raise _Outcome(
            Status.REFUSED,
            Reason.NOT_ALLOWED,
            "The subject names a ticket that does not exist or is not the sender's.",
        )
    _open(inbound, parsed, user=user, files=files, refused=refused_files)


def _refuse_if_flooding(address: str) -> None:
    limit = settings.MAIL_SENDER_HOURLY_LIMIT
    since = timezone.now() - timedelta(hours=1)
    recent = InboundMessage.objects.filter(from_address=address, received_at__gte=since).count()
    if recent >= limit:
        raise _Outcome(
            Status.HELD,
            Reason.RATE_LIMITED,
            f"{recent} messages from {address} in the last hour (limit {limit}).",
        )


def _sender(address: str, base: str) -> User | None:
    candidates = list(User.objects.filter(Q(email__iexact=address) | Q(email__iexact=base)))
    for user in candidates:
        if user.email.lower() == address:
            return user if user.is_active else None
    return next((user for user in candidates if user.is_active), None)


def _thread(parsed: ParsedMail) -> Ticket | None:
    """The ticket this message answers: by its headers, then by the tag; None if neither."""
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if ids:
        thread = MailThread.objects.filter(message_id__in=ids).select_related("ticket").first()
        if thread is not None:
            return thread.ticket
    for ticket_id in _reference_tags(parsed.subject):
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is not None:
            return ticket
    return None


def _reference_tags(subject: str) -> list[int]:
    prefix = re.escape(settings.TICKET_REFERENCE_PREFIX)
    return [
        int(found)
        for found in re.findall(rf"\[{prefix}-(\d{{1,18}})\]", subject, flags=re.IGNORECASE)
    ]


def subject_with_reference(subject: str, ticket: Ticket) -> str:
    """The subject with the ticket's `[SD-1042]` tag, added once: never a second time."""
    tag = f"[{ticket.reference}]"
    if tag.lower() in subject.lower():
        return subject
    return f"{tag} {subject}".strip()


def _check_files(
    attachments: list[MailAttachment],
) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The files the attachment rules accept, and a line for each one they refuse."""
    accepted: list[SimpleUploadedFile] = []
    refused: list[str] = []
    for attachment in attachments:
        upload = SimpleUploadedFile(
            attachment.filename[:200], attachment.payload, attachment.content_type
        )
        try:
            attachment_check(upload)
        except (ApplicationError, ValidationError) as exc:
            message = exc.message if isinstance(exc, ApplicationError) else "; ".join(exc.messages)
            refused.append(f"{attachment.filename}: {message}")
            continue
        upload.seek(0)
        accepted.append(upload)
    return accepted, refused


def _with_notes(body: str, refused: list[str]) -> str:
    if len(body) > BODY_MAX_CHARS:
        body = body[:BODY_MAX_CHARS] + TRUNCATED
    if not refused:
        return body
    notes = "\n".join(f"- {line}" for line in refused)
    return f"{body}\n\n[Attachments not accepted]\n{notes}"


def _reply(
    inbound: InboundMessage,
    parsed: ParsedMail,
    *,
    user: User,
    ticket: Ticket,
    files: list[SimpleUploadedFile],
    refused: list[str],
) -> None:
    if not actor_roles(user=user, ticket=ticket):
        raise _Outcome(
            Status.REFUSED,
            Reason.NOT_ALLOWED,
            "The message answers a ticket that does not exist or is not the sender's.",
        )
    body = _reply_text(parsed.text) or (NO_TEXT if files or refused else "")
    if not body:
        body = NO_TEXT
    try:
        message = message_add(
            ticket=ticket,
            author=user,
            body=_with_notes(body, refused),
            channel=Channel.EMAIL,
            attachments=files,
        )
    except TicketClosed as exc:
        raise _Outcome(Status.REFUSED, Reason.TICKET_CLOSED, exc.message) from exc
    except (ApplicationError, ValidationError) as exc:
        raise _Outcome(Status.REFUSED, Reason.INVALID, _error_text(exc)) from exc
    inbound.status, inbound.reason = Status.REPLY_ADDED, ""
    inbound.ticket, inbound.ticket_message = ticket, message
    inbound.detail = f"Reply added to {ticket.reference}."
    _remember(parsed.message_id, ticket)
    _tell_files_refused(parsed, user=user, ticket=ticket, refused=refused)


def _reply_text(text: str) -> str:
    from tickets.mail.parsing import strip_reply

    return strip_reply(text) or text.strip()


def _open(
    inbound: InboundMessage,
    parsed: ParsedMail,
    *,
    user: User,
    files: list[SimpleUploadedFile],
    refused: list[str],
) -> None:
    community = _community(parsed, user)
    subject = re.sub(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", "", parsed.subject, flags=re.IGNORECASE)
    try:
        ticket = ticket_open(
            community=community,
            requester=user,
            subject=(subject.strip() or NO_SUBJECT)[:200],
            description=_with_notes(parsed.text.strip() or NO_TEXT, refused),
            opened_by=user,
            channel=Channel.EMAIL,
            attachments=files,
        )
    except (ApplicationError, ValidationError) as exc:
        raise _Outcome(Status.REFUSED, Reason.INVALID, _error_text(exc)) from exc
    inbound.status, inbound.reason = Status.TICKET_OPENED, ""
    inbound.ticket = ticket
    inbound.ticket_message = ticket.messages.order_by("pk").first()
    inbound.detail = f"{ticket.reference} opened ({ticket.status})."
    _remember(parsed.message_id, ticket)
    _tell_files_refused(parsed, user=user, ticket=ticket, refused=refused)


def _community(parsed: ParsedMail, user: User) -> Community:
    addressed = (
        SupportAddress.objects.filter(
            address__in=parsed.recipients, active=True, community__isnull=False
        )
        .select_related("community")
        .order_by("pk")
        .first()
    )
    memberships = list(Membership.objects.filter(user=user).select_related("community"))
    if addressed is not None and addressed.community is not None:
        if not any(m.community_id == addressed.community_id for m in memberships):
            raise _Outcome(
                Status.REFUSED,
                Reason.NO_COMMUNITY,
                f"{user.email} is not a member of the community {addressed.address} serves.",
            )
        return addressed.community
    if not memberships:
        raise _Outcome(
            Status.REFUSED, Reason.NO_COMMUNITY, f"{user.email} belongs to no community."
        )
    if len(memberships) > 1:
        raise _Outcome(
            Status.REFUSED,
            Reason.AMBIGUOUS_COMMUNITY,
            f"{user.email} belongs to {len(memberships)} communities and the message was not "
            "sent to a community's own support address.",
        )
    return memberships[0].community


def _remember(message_id: str, ticket: Ticket) -> None:
    MailThread.objects.get_or_create(
        message_id=message_id, defaults={"ticket": ticket, "direction": MailThread.Direction.IN}
    )


def _error_text(exc: ApplicationError | ValidationError) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    return "; ".join(exc.messages)


# ---------------------------------------------------------------- answers and bounces


def dmarc_failed(parsed: ParsedMail) -> bool:
    """The topmost Authentication-Results (added by the server that received the message
    for the desk; lower ones may be forged by the sender) says dmarc=fail."""
    values = parsed.message.get_all("Authentication-Results") or []
    if not values:
        return False
    return re.search(r"\bdmarc\s*=\s*fail\b", str(values[0]), flags=re.IGNORECASE) is not None


_ANY_MESSAGE_ID = re.compile(rb"<[^<>\s@]{1,250}@[^<>\s]{1,250}>")


def _mark_bounced(inbound: InboundMessage, parsed: ParsedMail, detail: str) -> None:
    """A bounce of the desk's own mail (its In-Reply-To/References, or the Message-ID of
    the returned original or its headers in the report) marks that delivery failed."""
    from tickets.mail.outbound import outbound_bounced

    ids = {*parsed.in_reply_to, *parsed.references}
    ids.update(found.decode(errors="replace") for found in _ANY_MESSAGE_ID.findall(inbound.raw))
    ids.discard(parsed.message_id)
    outbound_bounced(message_ids=sorted(ids)[:200], detail=f"{detail} ({parsed.message_id})")


def _tell_files_refused(
    parsed: ParsedMail, *, user: User, ticket: Ticket, refused: list[str]
) -> None:
    if not refused:
        return
    from tickets.mail.models import MailKind
    from tickets.mail.outbound import mail_queue, ticket_values

    mail_queue(
        kind=MailKind.ATTACHMENT_REFUSED,
        dedup_key=f"inbound:{parsed.message_id}",
        recipients=[(user.email, user)],
        context={**ticket_values(ticket), "files": refused},
        ticket=ticket,
    )


def _answer_unknown_sender(parsed: ParsedMail, address: str) -> None:
    from tickets.mail.models import MailKind
    from tickets.mail.outbound import mail_queue

    (mail,) = mail_queue(
        kind=MailKind.UNKNOWN_SENDER,
        dedup_key=f"inbound:{parsed.message_id}",
        recipients=[(address, None)],
        context={"original_subject": parsed.subject or NO_SUBJECT},
    )
    # The refusal answers this message in the sender's client.
    OutboundMail.objects.filter(pk=mail.pk, in_reply_to="").update(
        in_reply_to=parsed.message_id, references=parsed.message_id
    )


# ---------------------------------------------------------------- held mail (desk)


def held_messages() -> QuerySet[InboundMessage]:
    """Mail from unknown senders waiting for staff to attach it to a community."""
    return InboundMessage.objects.filter(status=Status.HELD, reason=Reason.UNKNOWN_SENDER)


def inbound_attach(*, inbound: InboundMessage, community: Community, actor: User) -> Ticket:
    """Staff attach a held message to a community: its sender becomes a member of it (a
    person without a password, who can reset one) and the message opens a ticket on their
    behalf, under the community's rules (a member's request waits for approval)."""
    with transaction.atomic():
        inbound = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
        if inbound.status != Status.HELD or inbound.reason != Reason.UNKNOWN_SENDER:
            raise NotFound("This message is not held.")
        parsed = _parse(bytes(inbound.raw))
        address, _ = normalize_address(parsed.from_address)
        user = User.objects.filter(email__iexact=address).first()
        if user is None:
            user = User.objects.create_user(
                email=address,
                password=None,
                first_name=(parsed.from_name or "")[:150],
            )
        if not Membership.objects.filter(user=user, community=community).exists():
            membership_add(community=community, user=user, role=Membership.Role.MEMBER)
        files, refused = _check_files(parsed.attachments)
        subject = re.sub(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", "", parsed.subject, flags=re.I)
        ticket = ticket_open(
            community=community,
            requester=user,
            subject=(subject.strip() or NO_SUBJECT)[:200],
            description=_with_notes(parsed.text.strip() or NO_TEXT, refused),
            opened_by=actor,
            channel=Channel.EMAIL,
            attachments=files,
        )
        inbound.status, inbound.reason = Status.TICKET_OPENED, ""
        inbound.ticket = ticket
        inbound.ticket_message = ticket.messages.order_by("pk").first()
        inbound.detail = f"{ticket.reference} opened by {actor.email} from the held queue."
        inbound.save()
        _remember(parsed.message_id, ticket)
    return ticket


def inbound_discard(*, inbound: InboundMessage, actor: User) -> InboundMessage:
    """Staff discard a held message: kept, refused, and answered by nobody."""
    changed = (
        held_messages()
        .filter(pk=inbound.pk)
        .update(
            status=Status.REFUSED,
            reason=Reason.DISCARDED,
            detail=f"Discarded by {actor.email}.",
        )
    )
    if not changed:
        raise NotFound("This message is not held.")
    return InboundMessage.objects.get(pk=inbound.pk)
