"""Mail the SLA clocks send, run by workers as reactions (supportdesk/events.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from core.models import Event
from slas.models import ClockState, SLATarget

logger = logging.getLogger(__name__)


def _target(event: Event) -> SLATarget | None:
    return (
        SLATarget.objects.select_related("ticket", "ticket__assignee", "ticket__community")
        .filter(pk=event.payload["target_id"])
        .first()
    )


def _mail_assignee(target: SLATarget, *, template: str, subject: str) -> None:
    ticket = target.ticket
    if ticket.assignee is None or not ticket.assignee.email:
        logger.info("%s of %s: nobody is assigned to tell", subject, ticket.reference)
        return
    context = {
        "ticket": ticket,
        "target": target,
        "url": f"{settings.SITE_URL}/desk/tickets/{ticket.reference}/",
    }
    send_mail(
        subject=f"[{ticket.reference}] {subject}: {ticket.subject}",
        message=render_to_string(template, context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[ticket.assignee.email],
    )


def tell_assignee_breach_near(*, event: Event) -> None:
    """A clock is about to breach (the sweeper warned once): tell the ticket's agent."""
    target = _target(event)
    if target is None or target.state != ClockState.RUNNING:
        return  # met, paused or cancelled since the warning: nothing to hurry for
    _mail_assignee(
        target,
        template="slas/email/warning.txt",
        subject=f"{target.get_metric_display()} due soon",
    )
