"""Who may reach which pages, and looking things up through the tenancy scopes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from core.errors import NotFound
from core.models import User
from tickets.models import Ticket
from tickets.selectors import ticket_get

View = TypeVar("View", bound=Callable[..., HttpResponse])


def current_user(request: HttpRequest) -> User:
    return cast(User, request.user)


def agent_required(view: View) -> View:
    """Desk pages: agents only. Anyone else signed in gets 404, as if the desk were not there."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_staff and request.user.is_active):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def ticket_or_404(request: HttpRequest, reference: str) -> Ticket:
    """The ticket, if the tenancy scope lets this user see it."""
    try:
        return ticket_get(user=current_user(request), reference=reference)
    except NotFound as exc:
        raise Http404("No such ticket.") from exc
