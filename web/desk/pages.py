"""What the desk's two pages show: the context of the queue page and of the ticket page.

Views parse a form, call one service and, when the service refuses, render these pages
again with the refused form bound (`bound`) so that its errors show beside its fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify

from communities.selectors import budget_usage, community_scope
from slas.selectors import sla_badges
from tickets.filters import TicketFilter
from tickets.models import Macro, Ticket
from tickets.selectors import ticket_messages, transitions_available
from tickets.services.macros import macro_render
from web.access import current_user
from web.desk.forms import (
    AssignForm,
    BulkForm,
    ComposerForm,
    FieldsForm,
    LinkForm,
    MacroPickForm,
    MergeForm,
    QueueFilterForm,
    SaveFilterForm,
    TagsForm,
    TimeForm,
)
from web.desk.history import Entry, describe_events, describe_records
from web.desk.pagination import keyset_page, parse_sort
from web.desk.panels import ticket_panels
from web.desk.presence import POLL_SECONDS, presence_touch
from web.desk.queues import QUEUES_BY_KEY, queue_counts, queue_tickets
from web.desk.selectors import (
    agents_listed,
    macros_available,
    newest_event_id,
    queue_rows,
    saved_filters_visible,
    ticket_events,
    ticket_records,
)

PAGE_SIZE = 50


def _query(params: QueryDict, **changes: str | None) -> str:
    """`params` with some keys replaced (or dropped, for None), as a query string."""
    query = params.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@dataclass(frozen=True)
class Column:
    label: str
    sort: str | None  # None: not sortable
    css: str = ""


COLUMNS = (
    Column("Reference", "reference", "reference"),
    Column("Subject", "subject", "subject"),
    Column("Community", "community", "hide-narrow"),
    Column("Requester", "requester", "hide-narrow"),
    Column("Severity", "severity"),
    Column("Tier", "tier", "hide-narrow"),
    Column("Status", "status"),
    Column("SLA", "sla", "sla"),
    Column("Assignee", "assignee", "hide-narrow"),
    Column("Age", "created", "hide-narrow"),
    Column("Last update", "updated"),
)


def rail_context(request: HttpRequest) -> dict[str, Any]:
    """The queues with their counts, for the rail and its 30-second refresh."""
    user = current_user(request)
    return {
        "queue_counts": queue_counts(user),
        "current_queue": request.GET.get("queue", ""),
        "filtered": request.GET.get("filtered") == "1",
    }


def queue_page_context(
    request: HttpRequest,
    *,
    bulk_form: BulkForm | None = None,
    save_form: SaveFilterForm | None = None,
) -> dict[str, Any]:
    user = current_user(request)
    params = request.GET
    communities = list(community_scope(user).order_by("name"))
    agents = agents_listed()
    filter_form = QueueFilterForm(params, communities=communities, agents=agents)
    filter_params = filter_form.params()
    queue = QUEUES_BY_KEY.get(params.get("queue", ""))
    tickets = queue_tickets(queue_rows(user), user=user, key=queue.key if queue else "")
    tickets = TicketFilter(data=params, queryset=tickets, request=request).qs
    sort = parse_sort(params.get("sort") or (queue.sort if queue else None))
    page = keyset_page(tickets, sort=sort, cursor=params.get("cursor"), size=PAGE_SIZE)
    saved_filters = list(saved_filters_visible(user))
    columns = []
    for column in COLUMNS:
        current = column.sort == sort.key.name
        # A first click sorts ascending; clicking the current column turns it around.
        wanted = f"-{column.sort}" if current and not sort.descending else column.sort
        columns.append(
            {
                "label": column.label,
                "css": column.css,
                "url": _query(params, sort=wanted, cursor=None),
                "aria_sort": (
                    ("descending" if sort.descending else "ascending") if current else None
                ),
            }
        )
    selected = set(request.POST.getlist("tickets")) if bulk_form is not None else set()
    return {
        "area": "desk",
        **rail_context(request),
        "queue": queue,
        "title": queue.label if queue else "All tickets",
        "filter_form": filter_form,
        "filtered": bool(filter_params),
        "filter_query": "?" + urlencode(filter_params, doseq=True),
        "saved_filters": saved_filters,
        "current_saved": next(
            (s.pk for s in saved_filters if filter_params and s.params == filter_params), None
        ),
        "page": page,
        "sla_badges": sla_badges([t.pk for t in page.rows]) if page.rows else {},
        "columns": columns,
        "sort": sort,
        "selected": selected,
        "next_url": _query(params, cursor=page.next_cursor) if page.next_cursor else None,
        "previous_url": (
            _query(params, cursor=page.previous_cursor) if page.previous_cursor else None
        ),
        "first_url": None if page.is_first else _query(params, cursor=None),
        "here": _query(params),
        "bulk_form": bulk_form or BulkForm(user=user, agents=agents),
        "save_form": save_form or SaveFilterForm(),
    }


# ---------------------------------------------------------------- the ticket page


@dataclass(frozen=True)
class Conflict:
    """A change refused because the ticket changed since the page was loaded."""

    changes: list[Entry]
    latest: int
    action: str  # the URL the refused form posted to
    resubmit: list[tuple[str, str]] = field(default_factory=list)
    draft: bool = False  # the composer keeps the draft itself


def ticket_url(ticket: Ticket) -> str:
    return reverse("desk:ticket", args=[ticket.reference])


def composer_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    composer: ComposerForm | None = None,
    macro: Macro | None = None,
    draft: str = "",
    macro_form: MacroPickForm | None = None,
) -> dict[str, Any]:
    """The composer, empty, kept (a refused post), or filled with a canned response."""
    user = current_user(request)
    macros = macros_available(user)
    if composer is None:
        initial: dict[str, Any] = {"body": draft} if draft.strip() else {}
        if macro is not None:
            filled = macro_render(body=macro.body, ticket=ticket, agent=user)
            initial = {"body": f"{draft.rstrip()}\n\n{filled}" if draft.strip() else filled,
                       "kind": macro.kind}  # fmt: skip
        composer = ComposerForm(initial=initial)
    return {
        "composer": composer,
        "macro_form": macro_form or MacroPickForm(macros=macros),
        "has_macros": macros.exists(),
    }


def ticket_page_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    bound: Mapping[str, forms.Form] | None = None,
    conflict: Conflict | None = None,
    tab: str = "conversation",
    composer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the ticket page shows. `bound`: refused forms by name, shown with their
    errors; `conflict`: what changed, when a change was refused for that."""
    user = current_user(request)
    bound = bound or {}
    seen_event_id = conflict.latest if conflict else newest_event_id(user, ticket)
    agents = agents_listed()
    page_forms: dict[str, forms.Form] = {
        "assign": AssignForm(initial={"assignee": ticket.assignee_id}, agents=agents),
        "fields": FieldsForm(initial={"severity": ticket.severity, "tier": ticket.tier}),
        "tags": TagsForm(initial={"tags": ", ".join(ticket.tags)}),
        "time": TimeForm(),
        "link": LinkForm(user=user),
        "merge": MergeForm(user=user),
        **bound,
    }
    refused_transition = bound.get("transition")
    transitions = [
        {
            "transition": t,
            "form": (
                refused_transition
                if refused_transition is not None
                and refused_transition.data.get("transition") == t.name
                else None
            ),
        }
        for t in transitions_available(user=user, ticket=ticket)
    ]
    context: dict[str, Any] = {
        "area": "desk",
        "ticket": ticket,
        "seen_event_id": seen_event_id,
        "budget": budget_usage(community=ticket.community),
        "transitions": transitions,
        "transition_error": refused_transition,
        "transition_offered": any(item["form"] is not None for item in transitions),
        "others": presence_touch(ticket_id=ticket.pk, user=user),
        "poll_seconds": POLL_SECONDS,
        "forms": page_forms,
        "conflict": conflict,
        "tab": tab,
        "ticket_url": ticket_url(ticket),
        "is_mine": ticket.assignee_id == user.pk,
    }
    if tab == "history":
        context["audit"] = describe_events(list(ticket_events(user, ticket).order_by("-pk")))
        context["records"] = describe_records(ticket_records(ticket))
    else:
        context["conversation"] = list(ticket_messages(user=user, ticket=ticket))
        context.update(composer or composer_context(request, ticket))
    context["panels"] = _render_panels(request, ticket, context)
    return context


@dataclass(frozen=True)
class RenderedPanel:
    title: str
    slug: str
    html: str


def _render_panels(
    request: HttpRequest, ticket: Ticket, page: dict[str, Any]
) -> list[RenderedPanel]:
    """Each panel's template, rendered with the page's context and the panel's own."""
    return [
        RenderedPanel(
            title=panel.title,
            slug=slugify(panel.title),
            html=render_to_string(panel.template, {**page, **panel.context}, request=request),
        )
        for panel in ticket_panels(request, ticket)
    ]


def thread_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    composer: ComposerForm | None = None,
    conflict: Conflict | None = None,
    sent: str = "",
) -> dict[str, Any]:
    """The conversation and the composer: what an htmx post of the composer swaps."""
    user = current_user(request)
    return {
        "ticket": ticket,
        "seen_event_id": conflict.latest if conflict else newest_event_id(user, ticket),
        "conversation": list(ticket_messages(user=user, ticket=ticket)),
        "conflict": conflict,
        "conflict_in_thread": True,
        "sent": sent,
        **composer_context(request, ticket, composer=composer),
    }
