"""The side column of the desk's ticket page: a list of panels, each contributed by a function.

`settings.DESK_TICKET_PANELS` (default: DEFAULT_PANELS) lists dotted paths to functions

    def panel(request: HttpRequest, ticket: Ticket) -> Panel | None

called in order on every render of the ticket page. A function returns None to show nothing
for this ticket. The panel's template is included with the page's context (`ticket`,
`seen_event_id` for the collision guard, the page's `forms`, `user`) plus the panel's own
`context`, so a later capability (routing, SLA clocks, incidents) adds its panel by listing
one more function, without touching the desk. Read only through scoped selectors:
the ticket has been access-checked, anything else has not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string

from tickets.models import Ticket
from web.access import current_user
from web.desk.selectors import (
    linked_tickets,
    satisfaction,
    ticket_attachments,
    ticket_time_entries,
)


@dataclass(frozen=True)
class Panel:
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)


PanelFunction = Callable[[HttpRequest, Ticket], Panel | None]

DEFAULT_PANELS: tuple[str, ...] = (
    "web.desk.panels.community_panel",
    "web.desk.sla.sla_panel",
    "web.desk.panels.time_panel",
    "web.desk.panels.links_panel",
    "web.desk.panels.attachments_panel",
    "web.desk.panels.satisfaction_panel",
    "web.desk.routing.routing_panel",
    "web.desk.views.kb.kb_panel",
    "web.desk.views.reports.priority_panel",
    "web.desk.views.incidents.incident_panel",
)


@cache
def _load(paths: tuple[str, ...]) -> tuple[PanelFunction, ...]:
    return tuple(import_string(path) for path in paths)


def ticket_panels(request: HttpRequest, ticket: Ticket) -> list[Panel]:
    """The panels to show beside `ticket`, in the order the setting lists them."""
    paths = tuple(getattr(settings, "DESK_TICKET_PANELS", DEFAULT_PANELS))
    panels = (function(request, ticket) for function in _load(paths))
    return [panel for panel in panels if panel is not None]


# ---------------------------------------------------------------- the desk's own panels


def community_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    # The budget is the page's own `budget` (web.desk.pages.ticket_page_context), which the
    # header shows too: reading it once saves two queries.
    return Panel(
        "Community and budget", "desk/panels/community.html", {"community": ticket.community}
    )


def time_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    entries = list(ticket_time_entries(current_user(request), ticket))
    return Panel(
        "Time logged",
        "desk/panels/time.html",
        {"entries": entries, "total_minutes": sum(e.minutes for e in entries)},
    )


def links_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    return Panel(
        "Links", "desk/panels/links.html", {"linked": linked_tickets(current_user(request), ticket)}
    )


def attachments_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    return Panel(
        "Attachments",
        "desk/panels/attachments.html",
        {"attachments": list(ticket_attachments(current_user(request), ticket))},
    )


def satisfaction_panel(request: HttpRequest, ticket: Ticket) -> Panel | None:
    rating, pending = satisfaction(ticket)
    if rating is None and not pending:
        return None
    return Panel(
        "Satisfaction", "desk/panels/satisfaction.html", {"rating": rating, "pending": pending}
    )
