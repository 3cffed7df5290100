"""Every write to tickets, messages and attachments.

Views, the API, the admin, email intake and tasks all call these functions; there is no
second write path. Each is atomic, takes keyword arguments, and records what it did in
the audit trail (tickets.events) in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from communities.errors import CommunityInactive, NotMember
from communities.selectors import membership_get
from core.errors import Forbidden, NotFound
from core.services import model_update
from tickets import events
from tickets.errors import (
    AssigneeNotAgent,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    InternalNoteNotAllowed,
    InvalidTransition,
    ReasonRequired,
    TicketClosed,
    TransitionNotAllowed,
    UnknownTransition,
)
from tickets.models import Attachment, Category, Channel, Message, Severity, Ticket, TicketKind
from tickets.selectors import actor_roles
from tickets.states import TRANSITIONS, Actor, TicketStatus

if TYPE_CHECKING:
    from communities.models import Community, Membership
    from core.models import User


def _is_agent(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def _require(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(
            {field: ValidationError("This field may not be blank.", code="blank")}
        )
    return value


def ticket_open_check(*, community: Community, requester: User, opened_by: User) -> Membership:
    """Raise unless `opened_by` may open a ticket for `requester` in `community`; return the
    requester's membership. Forms call it to show the refusal beside the field."""
    if opened_by.pk != requester.pk and not _is_agent(opened_by):
        raise Forbidden("Only agents open tickets on someone else's behalf.")
    membership = membership_get(user=requester, community_id=community.pk)
    if membership is None:
        raise NotMember(f"{requester} is not a member of {community}.", field="community")
    if not community.active:
        raise CommunityInactive(f"{community} no longer accepts requests.", field="community")
    return membership


def ticket_open(
    *,
    community: Community,
    requester: User,
    subject: str,
    description: str,
    opened_by: User,
    kind: str = TicketKind.QUESTION,
    severity: str = Severity.MEDIUM,
    channel: str = Channel.PORTAL,
) -> Ticket:
    """Open a ticket with its first message, and record that routing is due.

    The representative rule (seed 004): a representative's request is opened directly;
    any other member's request waits in `awaiting_approval` for a representative. Only
    members open tickets for a community; agents may open one on a member's behalf.
    """
    membership = ticket_open_check(community=community, requester=requester, opened_by=opened_by)
    now = timezone.now()
    ticket = Ticket(
        community=community,
        requester=requester,
        subject=_require(subject, "subject"),
        description=_require(description, "description"),
        kind=kind,
        severity=severity,
        channel=channel,
        status=(
            TicketStatus.NEW if membership.is_representative else TicketStatus.AWAITING_APPROVAL
        ),
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    # The check constraints are the database's to enforce; validating them here would cost a
    # query each on the busiest write path, and clean_fields already checks the choices.
    ticket.full_clean(
        exclude=["community", "requester", "category", "assignee"], validate_constraints=False
    )
    ticket._history_user = opened_by  # type: ignore[attr-defined]  # simple-history: who did it
    with transaction.atomic():
        ticket.save()
        first = Message(
            ticket=ticket,
            author=requester,
            kind=Message.Kind.PUBLIC,
            body=ticket.description,
            channel=channel,
            created_at=now,
        )
        first._history_user = opened_by  # type: ignore[attr-defined]
        first.save()
        events.ticket_opened(ticket=ticket, actor=opened_by)
    return ticket


def _apply_transition(*, ticket: Ticket, name: str, actor: User | None, note: str = "") -> Ticket:
    """Apply transition `name` to a ticket already locked in this transaction."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise UnknownTransition(f"There is no transition called {name!r}.", field="transition")
    # The system (actor None) applies only the transitions that follow from other changes.
    allowed = (
        transition.automatic
        if actor is None
        else bool(actor_roles(user=actor, ticket=ticket) & transition.actors)
    )
    if not allowed:
        raise TransitionNotAllowed(f"You may not {transition.label.lower()} this ticket.")
    if ticket.status not in transition.sources or (
        transition.requires_assignee is not None
        and (ticket.assignee_id is not None) != transition.requires_assignee
    ):
        raise InvalidTransition(
            f"Cannot {transition.label.lower()} a ticket that is "
            f"{TicketStatus(ticket.status).label.lower()}.",
            status=ticket.status,
            transition=name,
        )
    if transition.requires_reason and not note.strip():
        raise ReasonRequired("Say why, for the requester.", field="note")

    previous = ticket.status
    now = timezone.now()
    ticket.status = transition.target
    ticket.status_changed_at = now
    ticket.updated_at = now
    if transition.target == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif transition.target == TicketStatus.CLOSED:
        ticket.closed_at = now
    elif previous in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket._history_user = actor  # type: ignore[attr-defined]
    ticket.save(
        update_fields=["status", "status_changed_at", "updated_at", "resolved_at", "closed_at"]
    )
    events.ticket_status_changed(
        ticket=ticket, actor=actor, previous=previous, transition=name, note=note.strip()
    )
    return ticket


def _locked(ticket: Ticket | int) -> Ticket:
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    return Ticket.objects.select_for_update().get(pk=ticket_id)


def ticket_transition(
    *, ticket: Ticket | int, name: str, actor: User | None, note: str = ""
) -> Ticket:
    """The one way a ticket's status changes: lock the row, check who and from where,
    write the status and the audit event, and publish what others react to.

    `actor` None is the system, which may apply only automatic transitions. Starting work
    on an unassigned ticket assigns it to the agent who started.
    """
    with transaction.atomic():
        locked = _locked(ticket)
        _apply_transition(ticket=locked, name=name, actor=actor, note=note)
        if name == "start_work" and locked.assignee_id is None and actor and _is_agent(actor):
            _set_assignee(ticket=locked, assignee=actor, actor=actor)
    return locked


def _set_assignee(*, ticket: Ticket, assignee: User | None, actor: User | None) -> None:
    previous_id = ticket.assignee_id
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    ticket._history_user = actor  # type: ignore[attr-defined]
    ticket.save(update_fields=["assignee", "updated_at"])
    events.ticket_assigned(ticket=ticket, actor=actor, previous_id=previous_id)


def ticket_assign(*, ticket: Ticket | int, assignee: User | None, actor: User | None) -> Ticket:
    """Give the ticket to an agent (or to nobody). A new or open ticket becomes assigned;
    an assigned ticket that loses its agent is open again."""
    if assignee is not None and not _is_agent(assignee):
        raise AssigneeNotAgent("Tickets are assigned to agents only.", field="assignee")
    if actor is not None and not _is_agent(actor):
        raise Forbidden("Only agents assign tickets.")
    with transaction.atomic():
        locked = _locked(ticket)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return locked
        _set_assignee(ticket=locked, assignee=assignee, actor=actor)
        if assignee is not None and locked.status in TRANSITIONS["assign"].sources:
            _apply_transition(ticket=locked, name="assign", actor=None)
        elif assignee is None and locked.status in TRANSITIONS["unassign"].sources:
            _apply_transition(ticket=locked, name="unassign", actor=None)
    return locked


TICKET_UPDATE_FIELDS = ("subject", "description", "kind", "severity", "tier", "category", "tags")


def _plain(value: Any) -> Any:
    if isinstance(value, Category):
        return value.pk
    return value


def ticket_update(*, ticket: Ticket | int, actor: User, data: dict[str, Any]) -> Ticket:
    """Change a ticket's fields, and its assignee when `data` has one (a User or None).

    The status has its own service, ticket_transition.
    """
    if not _is_agent(actor):
        raise Forbidden("Only agents change a ticket's fields.")
    data = dict(data)
    unknown = set(data) - {*TICKET_UPDATE_FIELDS, "assignee"}
    if unknown:
        raise ValidationError(
            {f: ValidationError("This field cannot be changed.", code="read_only") for f in unknown}
        )
    for field in ("subject", "description"):
        if field in data:
            data[field] = _require(data[field], field)
    if "tags" in data:
        data["tags"] = normalise_tags(data["tags"])
    with transaction.atomic():
        locked = _locked(ticket)
        before = {field: _plain(getattr(locked, field)) for field in TICKET_UPDATE_FIELDS}
        locked._history_user = actor  # type: ignore[attr-defined]
        locked, changed = model_update(instance=locked, fields=TICKET_UPDATE_FIELDS, data=data)
        if changed:
            events.ticket_updated(
                ticket=locked,
                actor=actor,
                changes={f: [before[f], _plain(getattr(locked, f))] for f in changed},
            )
        if "assignee" in data:
            locked = ticket_assign(ticket=locked, assignee=data["assignee"], actor=actor)
    return locked


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Lower-case, spaces to dashes, no duplicates, in the order given."""
    seen: dict[str, None] = {}
    for tag in tags:
        clean = re.sub(r"\s+", "-", tag.strip().lower())
        if not clean:
            continue
        if len(clean) > 50:
            raise ValidationError(
                {"tags": ValidationError("A tag has at most 50 characters.", code="max_length")}
            )
        seen[clean] = None
    return list(seen)


def message_add(
    *,
    ticket: Ticket | int,
    author: User,
    body: str,
    kind: str = Message.Kind.PUBLIC,
    channel: str = Channel.PORTAL,
) -> Message:
    """Add a public reply or an internal note.

    An agent's first public reply is the ticket's first response. A reply from the
    customer's side brings a ticket that waits on the customer back to work; a
    representative's reply reopens a resolved ticket. A closed ticket takes only notes.
    """
    body = _require(body, "body")
    with transaction.atomic():
        locked = _locked(ticket)
        roles = actor_roles(user=author, ticket=locked)
        if not roles:
            raise NotFound("No such ticket.")
        is_agent = Actor.STAFF in roles
        if kind == Message.Kind.INTERNAL and not is_agent:
            raise InternalNoteNotAllowed("Only agents write internal notes.", field="kind")
        if kind == Message.Kind.PUBLIC and locked.status == TicketStatus.CLOSED and not is_agent:
            raise TicketClosed("This ticket is closed; please open a new request.")
        message = Message(ticket=locked, author=author, kind=kind, body=body, channel=channel)
        message._history_user = author  # type: ignore[attr-defined]
        message.save()
        events.message_added(message=message)
        if kind == Message.Kind.PUBLIC:
            _after_public_reply(ticket=locked, author=author, roles=roles, at=message.created_at)
    return message


def _after_public_reply(*, ticket: Ticket, author: User, roles: frozenset[Actor], at: Any) -> None:
    from_desk = Actor.STAFF in roles and author.pk != ticket.requester_id
    if from_desk:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = at
        ticket.updated_at = at
        ticket.save(update_fields=["first_responded_at", "updated_at"])
        return
    if ticket.status == TicketStatus.WAITING_ON_CUSTOMER:
        _apply_transition(ticket=ticket, name="customer_replied", actor=author)
    elif ticket.status == TicketStatus.RESOLVED and roles & TRANSITIONS["reopen"].actors:
        _apply_transition(ticket=ticket, name="reopen", actor=author)
    else:
        ticket.updated_at = at
        ticket.save(update_fields=["updated_at"])


# ---------------------------------------------------------------- attachments

_TEXT_TYPES_BY_EXTENSION = {".csv": "text/csv", ".json": "application/json", ".log": "text/plain"}


def _sniff_content_type(head: bytes, filename: str) -> str:
    """The type the bytes say they are, not the type the uploader claimed."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if b"\0" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    extension = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    return _TEXT_TYPES_BY_EXTENSION.get(extension, "text/plain")


def clean_filename(name: str) -> str:
    """The uploaded name, fit to show and to send back in Content-Disposition."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:255] or "attachment"


def attachment_add(
    *,
    ticket: Ticket | int,
    uploaded_by: User,
    upload: UploadedFile[bytes],
    message: Message | None = None,
) -> Attachment:
    """Store a file on a ticket (or on one of its messages), checking size and real type."""
    size = upload.size or 0
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise AttachmentTooLarge(
            f"Files may be at most {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB.",
            field="file",
        )
    if size == 0:
        raise ValidationError({"file": ValidationError("The file is empty.", code="empty")})
    filename = clean_filename(upload.name or "")
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        digest.update(chunk)
    content_type = _sniff_content_type(head, filename)
    if content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        raise AttachmentTypeRefused(f"Files of type {content_type} are not accepted.", field="file")

    with transaction.atomic():
        locked = _locked(ticket)
        roles = actor_roles(user=uploaded_by, ticket=locked)
        if not roles:
            raise NotFound("No such ticket.")
        if message is not None and (
            message.ticket_id != locked.pk or (message.is_internal and Actor.STAFF not in roles)
        ):
            raise NotFound("No such message.")
        if locked.status == TicketStatus.CLOSED and Actor.STAFF not in roles:
            raise TicketClosed("This ticket is closed; please open a new request.")
        attachment = Attachment(
            ticket=locked,
            message=message,
            uploaded_by=uploaded_by,
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=digest.hexdigest(),
        )
        path = f"attachments/{attachment.sha256[:2]}/{attachment.sha256}"
        if not default_storage.exists(path):  # content-addressed: the same bytes are kept once
            path = default_storage.save(path, upload)
        attachment.file.name = path
        attachment.save()
        events.attachment_added(attachment=attachment)
    return attachment


# ---------------------------------------------------------------- categories

CATEGORY_FIELDS = ("name", "slug", "parent", "default_tier", "active")


def category_create(
    *, name: str, slug: str, parent: Category | None = None, default_tier: str = "community",
    active: bool = True,
) -> Category:  # fmt: skip
    category = Category(
        name=name, slug=slug, parent=parent, default_tier=default_tier, active=active
    )
    category.full_clean()
    category.save()
    return category


def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    category, _ = model_update(instance=category, fields=CATEGORY_FIELDS, data=data)
    return category
