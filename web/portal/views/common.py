"""What the portal's views share."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from core.errors import ApplicationError, ErrorKind
from core.models import User
from tickets.models import Ticket
from web.portal.forms import show_refusal
from web.portal.place import Place


class PortalRequest(HttpRequest):
    htmx: HtmxDetails


def max_mb() -> int:
    return max(1, int(settings.ATTACHMENT_MAX_BYTES) // (1024 * 1024))


def refuse(form: Any, error: ApplicationError | ValidationError) -> None:
    """Show a service's refusal on the form; "not found" stays a 404."""
    if isinstance(error, ApplicationError) and error.kind == ErrorKind.NOT_FOUND:
        raise Http404(error.message)
    show_refusal(form, error)


def portal_context(place: Place, section: str, **extra: Any) -> dict[str, Any]:
    return {"area": "portal", "place": place, "portal_page": section, **extra}


def names_text(users: list[User]) -> str:
    names = [user.display_name for user in users]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def waiting_text(ticket: Ticket, representatives: list[User]) -> str:
    if not representatives:
        return (
            f"{ticket.reference} waits for approval, and {ticket.community.name} has no "
            "representative at the moment: the support team will look at it."
        )
    return (
        f"{ticket.reference} now waits for one of {ticket.community.name}'s representatives "
        f"to approve it: {names_text(representatives)}. They have been asked by email."
    )
