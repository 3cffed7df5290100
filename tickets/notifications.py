"""Mail the desk sends about tickets, run by workers as reactions (supportdesk/events.py).

Each reaction queues its mail in the outbox (tickets.mail.outbound) under the event's id,
so a reaction that runs twice sends nothing twice; the `mail.send` task sends it after
commit. Templates: templates/tickets/email/<kind>.* (editable in the admin).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from communities.selectors import representatives_of
from core.models import Event, User
from tickets.mail.models import MailKind
from tickets.mail.outbound import mail_queue, ticket_url, ticket_values
from tickets.models import Message, Ticket
from tickets.services.surveys import LINK_VALID_FOR, survey_open, survey_token


def _ticket(event: Event) -> Ticket:
    return Ticket.objects.select_related("community", "requester").get(
        pk=event.payload["ticket_id"]
    )


def _to_requester(kind: str, event: Event, ticket: Ticket, **context: Any) -> None:
    mail_queue(
        kind=kind,
        dedup_key=f"event:{event.pk}",
        recipients=[(ticket.requester.email, ticket.requester)],
        context={**ticket_values(ticket), **context},
        ticket=ticket,
    )


def acknowledge_request(*, event: Event) -> None:
    """Request received: the requester gets its reference (whatever channel it came by)."""
    ticket = _ticket(event)
    _to_requester(MailKind.REQUEST_RECEIVED, event, ticket)


def ask_representatives_to_approve(*, event: Event) -> None:
    """Seed 004: a member's request waits until one of the community's representatives says yes."""
    ticket = _ticket(event)
    if ticket.status != "awaiting_approval":
        return  # already approved or declined before this ran
    representatives: list[User] = [
        m.user for m in representatives_of(community_id=ticket.community_id)
    ]
    if not representatives:
        return
    mail_queue(
        kind=MailKind.APPROVAL_REQUESTED,
        dedup_key=f"event:{event.pk}",
        recipients=[(user.email, user) for user in representatives],
        context=ticket_values(ticket),
        ticket=ticket,
    )


def tell_requester_approved(*, event: Event) -> None:
    ticket = _ticket(event)
    _to_requester(MailKind.APPROVED, event, ticket)


def tell_requester_declined(*, event: Event) -> None:
    ticket = _ticket(event)
    _to_requester(MailKind.DECLINED, event, ticket, reason=event.payload.get("reason", ""))


def send_staff_reply(*, event: Event) -> None:
    """An agent's public reply goes to the requester with its text; a note never mails, and
    neither does what the requester wrote themselves."""
    message = (
        Message.objects.select_related("author", "ticket__community", "ticket__requester")
        .filter(pk=event.payload.get("message_id"), kind=Message.Kind.PUBLIC)
        .first()
    )
    if message is None or message.author is None or not message.author.is_staff:
        return
    ticket = message.ticket
    if message.author_id == ticket.requester_id:
        return
    mail_queue(
        kind=MailKind.STAFF_REPLY,
        dedup_key=f"event:{event.pk}",
        recipients=[(ticket.requester.email, ticket.requester)],
        context={
            **ticket_values(ticket),
            "reply": {"body": message.body, "author": message.author.display_name},
        },
        ticket=ticket,
        automatic=False,  # a person wrote it: Auto-Submitted would make clients ignore it
    )


def public_staff_reply(payload: dict[str, Any]) -> bool:
    """Only public messages can be replies worth mailing (the reaction's `when`)."""
    return bool(payload.get("kind") == Message.Kind.PUBLIC)


def send_satisfaction_survey(*, event: Event) -> None:
    """Seed 004: resolving a request asks the requester whether it was answered well."""
    ticket = _ticket(event)
    rating = survey_open(ticket=ticket)
    if rating is None:
        return  # reopened before this ran, or a survey is already open
    token = survey_token(rating)
    _to_requester(
        MailKind.RESOLVED,
        event,
        ticket,
        good_url=f"{settings.SITE_URL}/portal/survey/{token}/?score=good",
        bad_url=f"{settings.SITE_URL}/portal/survey/{token}/?score=bad",
        days=LINK_VALID_FOR.days,
    )


def tell_requester_merged(*, event: Event) -> None:
    ticket = Ticket.objects.select_related("requester", "community", "merged_into").get(
        pk=event.payload["ticket_id"]
    )
    target = ticket.merged_into
    if target is None:
        return
    _to_requester(
        MailKind.MERGED,
        event,
        ticket,
        target={
            "reference": target.reference,
            "subject": target.subject,
            "url": ticket_url(target),
        },
    )
