"""Opening tickets, moving them through the workflow, assigning them, changing their fields.

Views, the API, the admin, email intake and tasks all call these functions; there is no
second write path. Each is atomic, takes keyword arguments, and records what it did in
the audit trail (tickets.events) in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from communities.errors import CommunityInactive, NotMember
from communities.selectors import membership_get
from core.errors import Forbidden
from core.services import model_update
from tickets import events
from tickets.errors import (
    AssigneeNotAgent,
    InvalidTransition,
    ReasonRequired,
    TransitionNotAllowed,
    UnknownTransition,
)
from tickets.models import Category, Channel, Message, Severity, Ticket, TicketKind
from tickets.selectors import actor_roles
from tickets.services.attachments import attachment_check, attachment_store
from tickets.services.common import is_agent, locked, refuse_if_changed, require_text
from tickets.states import TRANSITIONS, TicketStatus

if TYPE_CHECKING:
    from communities.models import Community, Membership
    from core.models import User


def ticket_open_check(*, community: Community, requester: User, opened_by: User) -> Membership:
    """Raise unless `opened_by` may open a ticket for `requester` in `community`; return the
    requester's membership. Forms call it to show the refusal beside the field."""
    if opened_by.pk != requester.pk and not is_agent(opened_by):
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
    attachments: Sequence[UploadedFile[bytes]] = (),
) -> Ticket:
    """Open a ticket with its first message (and its files), and record that routing is due.

    The representative rule (seed 004): a representative's request is opened directly;
    any other member's request waits in `awaiting_approval` for a representative. Only
    members open tickets for a community; agents may open one on a member's behalf. Every
    file is checked before anything is written, so a refused file leaves no ticket behind.
    """
    membership = ticket_open_check(community=community, requester=requester, opened_by=opened_by)
    checked = [attachment_check(upload) for upload in attachments]
    now = timezone.now()
    ticket = Ticket(
        community=community,
        requester=requester,
        subject=require_text(subject, "subject"),
        description=require_text(description, "description"),
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
        exclude=["community", "requester", "category", "assignee", "merged_into"],
        validate_constraints=False,
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
        for upload in checked:
            attachment_store(ticket=ticket, message=first, uploaded_by=requester, checked=upload)
        events.ticket_opened(ticket=ticket, actor=opened_by)
    return ticket


def apply_transition(*, ticket: Ticket, name: str, actor: User | None, note: str = "") -> Ticket:
    """Apply transition `name` to a ticket already locked in this transaction."""
    previous = _move(ticket=ticket, name=name, actor=actor, note=note)
    ticket._history_user = actor  # type: ignore[attr-defined]
    ticket.save(update_fields=STATUS_FIELDS)
    events.ticket_status_changed(
        ticket=ticket, actor=actor, previous=previous, transition=name, note=note.strip()
    )
    return ticket


# What a transition writes.
STATUS_FIELDS = ["status", "status_changed_at", "updated_at", "resolved_at", "closed_at"]


def _move(*, ticket: Ticket, name: str, actor: User | None, note: str) -> str:
    """Check transition `name` and set its fields on the ticket, unsaved; return the status
    it had. The caller saves STATUS_FIELDS and records the change."""
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
    return previous


def ticket_transition(
    *,
    ticket: Ticket | int,
    name: str,
    actor: User | None,
    note: str = "",
    seen_event_id: int | None = None,
) -> Ticket:
    """The one way a ticket's status changes: lock the row, check who and from where,
    write the status and the audit event, and publish what others react to.

    `actor` None is the system, which may apply only automatic transitions. Starting work
    on an unassigned ticket assigns it to the agent who started. With `seen_event_id`, the
    change is refused if someone else changed the ticket since (TicketChanged).
    """
    with transaction.atomic():
        ticket = locked(ticket)
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=actor)
        apply_transition(ticket=ticket, name=name, actor=actor, note=note)
        if name == "start_work" and ticket.assignee_id is None and actor and is_agent(actor):
            _set_assignee(ticket=ticket, assignee=actor, actor=actor)
    return ticket


def _set_assignee(*, ticket: Ticket, assignee: User | None, actor: User | None) -> None:
    previous_id = ticket.assignee_id
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    ticket._history_user = actor  # type: ignore[attr-defined]
    ticket.save(update_fields=["assignee", "updated_at"])
    events.ticket_assigned(ticket=ticket, actor=actor, previous_id=previous_id)


def _check_assignment(*, assignee: User | None, actor: User | None) -> None:
    if assignee is not None and not is_agent(assignee):
        raise AssigneeNotAgent("Tickets are assigned to agents only.", field="assignee")
    if actor is not None and not is_agent(actor):
        raise Forbidden("Only agents assign tickets.")


@dataclass
class _Reassignment:
    """A new assignee set on a locked ticket, unsaved, with the status change it brings."""

    previous_id: int | None
    actor: User | None
    transition: str = ""
    previous_status: str = ""

    @property
    def fields(self) -> list[str]:
        return ["assignee", *(STATUS_FIELDS if self.transition else ["updated_at"])]

    def record(self, ticket: Ticket) -> None:
        events.ticket_assigned(ticket=ticket, actor=self.actor, previous_id=self.previous_id)
        if self.transition:
            events.ticket_status_changed(
                ticket=ticket,
                actor=None,
                previous=self.previous_status,
                transition=self.transition,
                note="",
            )


def _reassign(*, ticket: Ticket, assignee: User | None, actor: User | None) -> _Reassignment:
    """Give the locked ticket to `assignee` (unsaved): a new or open ticket becomes
    assigned; an assigned ticket that loses its agent is open again."""
    change = _Reassignment(previous_id=ticket.assignee_id, actor=actor)
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    name = ""
    if assignee is not None and ticket.status in TRANSITIONS["assign"].sources:
        name = "assign"
    elif assignee is None and ticket.status in TRANSITIONS["unassign"].sources:
        name = "unassign"
    if name:
        change.previous_status = _move(ticket=ticket, name=name, actor=None, note="")
        change.transition = name
    return change


def ticket_assign(
    *,
    ticket: Ticket | int,
    assignee: User | None,
    actor: User | None,
    seen_event_id: int | None = None,
) -> Ticket:
    """Give the ticket to an agent (or to nobody). A new or open ticket becomes assigned;
    an assigned ticket that loses its agent is open again: one write, two audit entries."""
    _check_assignment(assignee=assignee, actor=actor)
    with transaction.atomic():
        ticket = locked(ticket)
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=actor)
        if ticket.assignee_id == (assignee.pk if assignee else None):
            return ticket
        change = _reassign(ticket=ticket, assignee=assignee, actor=actor)
        ticket._history_user = actor  # type: ignore[attr-defined]
        ticket.save(update_fields=change.fields)
        change.record(ticket)
    return ticket


TICKET_UPDATE_FIELDS = ("subject", "description", "kind", "severity", "tier", "category", "tags")


def _plain(value: Any) -> Any:
    if isinstance(value, Category):
        return value.pk
    return value


def ticket_update(
    *,
    ticket: Ticket | int,
    actor: User | None,
    data: dict[str, Any],
    reason: str = "",
    seen_event_id: int | None = None,
) -> Ticket:
    """Change a ticket's fields, and its assignee when `data` has one (a User or None).

    `reason` is kept in the audit trail beside the change. The status has its own service,
    ticket_transition. `actor` None is the system (routing sets category, severity and tier).
    """
    if actor is not None and not is_agent(actor):
        raise Forbidden("Only agents change a ticket's fields.")
    data = dict(data)
    unknown = set(data) - {*TICKET_UPDATE_FIELDS, "assignee"}
    if unknown:
        raise ValidationError(
            {f: ValidationError("This field cannot be changed.", code="read_only") for f in unknown}
        )
    for field in ("subject", "description"):
        if field in data:
            data[field] = require_text(data[field], field)
    if "tags" in data:
        data["tags"] = normalise_tags(data["tags"])
    assignee = data.pop("assignee", _KEEP)
    if assignee is not _KEEP:
        _check_assignment(assignee=assignee, actor=actor)
    with transaction.atomic():
        ticket = locked(ticket)
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=actor)
        before = {field: _plain(getattr(ticket, field)) for field in TICKET_UPDATE_FIELDS}
        ticket, changed = model_update(
            instance=ticket, fields=TICKET_UPDATE_FIELDS, data=data, save=False
        )
        fields = [*changed, "updated_at"] if changed else []
        reassignment = None
        if assignee is not _KEEP and ticket.assignee_id != (assignee.pk if assignee else None):
            reassignment = _reassign(ticket=ticket, assignee=assignee, actor=actor)
            fields = list(dict.fromkeys([*fields, *reassignment.fields]))
        if not fields:
            return ticket
        # The fields, the assignee and the status it brings: one write, one history row.
        ticket._history_user = actor  # type: ignore[attr-defined]
        ticket.save(update_fields=fields)
        if changed:
            events.ticket_updated(
                ticket=ticket,
                actor=actor,
                changes={f: [before[f], _plain(getattr(ticket, f))] for f in changed},
                reason=reason.strip(),
            )
        if reassignment is not None:
            reassignment.record(ticket)
    return ticket


# `ticket_update` was not asked to change the assignee.
_KEEP: Any = object()


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
