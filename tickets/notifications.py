"""Mail the desk sends about tickets, run by workers as reactions (supportdesk/events.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from communities.selectors import representatives_of
from core.models import Event
from tickets.models import Ticket
from tickets.services.surveys import LINK_VALID_FOR, survey_open, survey_token


def _ticket_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL}/portal/tickets/{ticket.reference}/"


def ask_representatives_to_approve(*, event: Event) -> None:
    """Seed 004: a member's request waits until one of the community's representatives says yes."""
    ticket = Ticket.objects.select_related("community", "requester").get(
        pk=event.payload["ticket_id"]
    )
    if ticket.status != "awaiting_approval":
        return  # already approved or declined before this ran
    recipients = [m.user.email for m in representatives_of(community_id=ticket.community_id)]
    if not recipients:
        return
    context = {"ticket": ticket, "url": _ticket_url(ticket)}
    send_mail(
        subject=f"[{ticket.reference}] Approval requested: {ticket.subject}",
        message=render_to_string("tickets/email/approval_requested.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )


def tell_requester_declined(*, event: Event) -> None:
    ticket = Ticket.objects.select_related("community", "requester").get(
        pk=event.payload["ticket_id"]
    )
    context = {
        "ticket": ticket,
        "reason": event.payload.get("reason", ""),
        "url": _ticket_url(ticket),
    }
    send_mail(
        subject=f"[{ticket.reference}] Your request was declined: {ticket.subject}",
        message=render_to_string("tickets/email/declined.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[ticket.requester.email],
    )


def send_satisfaction_survey(*, event: Event) -> None:
    """Seed 004: resolving a request asks the requester whether it was answered well."""
    ticket = Ticket.objects.select_related("community", "requester").get(
        pk=event.payload["ticket_id"]
    )
    rating = survey_open(ticket=ticket)
    if rating is None:
        return  # reopened before this ran, or a survey is already open
    context = {
        "ticket": ticket,
        "good_url": f"{settings.SITE_URL}/portal/survey/{survey_token(rating)}/?score=good",
        "bad_url": f"{settings.SITE_URL}/portal/survey/{survey_token(rating)}/?score=bad",
        "days": LINK_VALID_FOR.days,
    }
    send_mail(
        subject=f"[{ticket.reference}] How did we do? {ticket.subject}",
        message=render_to_string("tickets/email/survey.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[ticket.requester.email],
    )


def tell_requester_merged(*, event: Event) -> None:
    ticket = Ticket.objects.select_related("requester", "merged_into").get(
        pk=event.payload["ticket_id"]
    )
    if ticket.merged_into is None:
        return
    context = {
        "ticket": ticket,
        "target": ticket.merged_into,
        "url": _ticket_url(ticket.merged_into),
    }
    send_mail(
        subject=f"[{ticket.reference}] Continued in {ticket.merged_into.reference}",
        message=render_to_string("tickets/email/merged.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[ticket.requester.email],
    )
