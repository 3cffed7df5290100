"""Canned responses, and the restricted substitution that fills their placeholders.

A macro's body is text an admin wrote; it must never reach a template engine (a macro
could then read settings or call methods). Only the placeholders below are replaced, by
plain string substitution; anything else between braces is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.services import model_update
from tickets.models import Macro, Ticket

if TYPE_CHECKING:
    from core.models import User

PLACEHOLDERS: dict[str, Callable[[Ticket, User], str]] = {
    "requester.first_name": lambda t, a: t.requester.first_name or t.requester.display_name,
    "requester.name": lambda t, a: t.requester.display_name,
    "ticket.reference": lambda t, a: t.reference,
    "ticket.subject": lambda t, a: t.subject,
    "community.name": lambda t, a: t.community.name,
    "agent.first_name": lambda t, a: a.first_name or a.display_name,
    "agent.name": lambda t, a: a.display_name,
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def macro_render(*, body: str, ticket: Ticket, agent: User) -> str:
    """The body with every known placeholder replaced by its value for this ticket."""

    def value(match: re.Match[str]) -> str:
        fill = PLACEHOLDERS.get(match.group(1))
        return fill(ticket, agent) if fill else match.group(0)

    return _PLACEHOLDER.sub(value, body)


MACRO_FIELDS = ("name", "body", "kind", "owner", "active")


def macro_create(
    *, name: str, body: str, kind: str = "public", owner: User | None = None, active: bool = True
) -> Macro:
    macro = Macro(name=name, body=body, kind=kind, owner=owner, active=active)
    macro.full_clean()
    macro.save()
    return macro


def macro_update(*, macro: Macro, data: dict[str, Any]) -> Macro:
    macro, _ = model_update(instance=macro, fields=MACRO_FIELDS, data=data)
    return macro
