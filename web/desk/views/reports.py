"""The desk's reports: the Support, Operations, Executive and Community dashboards, their CSV
exports (the same text as the tables on the screen), the drill-down from a figure to the
tickets behind it, and the budget-aware priority on the ticket page. Agents only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from communities.models import ServicePlan
from communities.selectors import community_scope
from incidents.oncall.selectors import on_call_board
from reports import dashboards, metrics
from reports.filters import PERIODS, Parsed, parse_filters
from reports.priority import ticket_funding_set
from routing.models import Team
from tickets.models import Channel, Severity, Ticket, Tier
from tickets.states import TicketStatus
from web.access import agent_required, current_user, ticket_or_404
from web.desk.panels import Panel
from web.desk.selectors import agents_listed

DRILL_LIMIT = 200
UNRESOLVED_STATUSES = [s for s in TicketStatus.values if s not in ("resolved", "closed")]


def _queue_link(parsed: Parsed, extra: dict[str, str]) -> str | None:
    """The desk queue with the filters it understands (web.desk.pages: TicketFilter), for a
    backlog figure; None when a filter has no queue equivalent (plan, team)."""
    f = parsed.filters
    if f.plan or f.team:
        return None
    params: dict[str, Any] = {"status": UNRESOLVED_STATUSES}
    if parsed.community:
        params["community"] = parsed.community.slug
    for name in ("tier", "severity", "channel"):
        value = extra.get(name) or getattr(f, name)
        if value:
            params[name] = value
    agent = extra.get("agent") or (str(f.agent) if f.agent else "")
    if agent:
        params["assignee"] = agent
    if "age" in extra:
        after, before = metrics.age_bucket_bounds(extra["age"], timezone.now())
        if after is not None:
            params["created_after"] = after.isoformat()
        params["created_before"] = before.isoformat()
    if "community" in extra:
        params["community"] = extra["community"]
    return reverse("desk:queue") + "?" + urlencode(params, doseq=True)


def _drill(parsed: Parsed) -> dashboards.Drill:
    def link(key: str, extra: dict[str, str]) -> str | None:
        if key == "backlog":
            queue = _queue_link(parsed, extra)
            if queue:
                return queue
        return reverse("desk:report_tickets") + "?" + parsed.query(metric=key, **extra)

    return link


def _parse(request: HttpRequest, params: Any = None) -> Parsed:
    return parse_filters(
        params if params is not None else request.GET,
        communities=community_scope(current_user(request)),
    )


def _board(request: HttpRequest, key: str, parsed: Parsed) -> dashboards.Dashboard:
    drill = _drill(parsed)
    if key == "support":
        return dashboards.support(parsed.filters, drill)
    if key == "operations":
        return dashboards.operations(parsed.filters, drill, on_call=on_call_board(timezone.now()))
    if key == "executive":
        return dashboards.executive(parsed.filters, drill)
    if key == "community":
        return dashboards.community(parsed.filters, drill)
    raise Http404("No such dashboard.")


def _filter_choices(request: HttpRequest, parsed: Parsed) -> dict[str, Any]:
    user = current_user(request)
    return {
        "periods": list(PERIODS.items()),
        "communities": list(community_scope(user).order_by("name").values_list("slug", "name")),
        "plans": list(ServicePlan.objects.values_list("pk", "name")),
        "tiers": Tier.choices,
        "severities": Severity.choices,
        "teams": list(Team.objects.order_by("name").values_list("pk", "name")),
        "agents": [(a.pk, a.display_name) for a in agents_listed()],
        "channels": Channel.choices,
        "selected": parsed.params,
    }


@agent_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("desk:report", key="support")


@agent_required
@require_GET
def dashboard(request: HttpRequest, key: str) -> HttpResponse:
    if key not in dashboards.DASHBOARDS:
        raise Http404("No such dashboard.")
    parsed = _parse(request)
    board = _board(request, key, parsed)
    return render(
        request,
        "desk/reports/dashboard.html",
        {
            "area": "desk",
            "board": board,
            "parsed": parsed,
            "query": parsed.query(),
            "dashboards": list(dashboards.DASHBOARDS.items()),
            **_filter_choices(request, parsed),
        },
    )


def csv_response(table: dashboards.Table, filename: str) -> HttpResponse:
    response = HttpResponse(dashboards.csv_text(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@agent_required
@require_GET
def export(request: HttpRequest, key: str, table: str) -> HttpResponse:
    if key not in dashboards.DASHBOARDS:
        raise Http404("No such dashboard.")
    parsed = _parse(request)
    board = _board(request, key, parsed)
    try:
        chosen = board.table(table)
    except KeyError as exc:
        raise Http404("No such table.") from exc
    return csv_response(chosen, f"{key}-{table}.csv")


def _drill_tickets(request: HttpRequest) -> tuple[Parsed, str, Any]:
    params = request.GET.copy()
    parsed = _parse(request, params)
    key = params.get("metric", "")
    f = parsed.filters
    for name in ("tier", "severity", "channel"):
        if params.get(name):
            f = metrics.Filters(**{**f.__dict__, name: params[name]})
    tickets = metrics.tickets_behind(key, f)
    if tickets is None:
        raise Http404("No tickets behind this figure.")
    if key == "backlog" and params.get("age"):
        after, before = metrics.age_bucket_bounds(str(params.get("age")), timezone.now())
        tickets = tickets.filter(created_at__lte=before)
        if after is not None:
            tickets = tickets.filter(created_at__gt=after)
    tickets = tickets.select_related("community", "assignee").order_by("-created_at", "-pk")
    return parsed, key, tickets


@agent_required
@require_GET
def drill(request: HttpRequest) -> HttpResponse:
    """The tickets a figure counts: the same query as the figure, listed."""
    parsed, key, tickets = _drill_tickets(request)
    total = tickets.count()
    rows = list(tickets[:DRILL_LIMIT])
    if request.GET.get("format") == "csv":
        table = dashboards.Table(
            "tickets",
            "Tickets",
            ["Reference", "Subject", "Community", "Status", "Severity", "Tier", "Created"],
        )
        for t in list(tickets):
            table.rows.append([dashboards.Cell(x) for x in _ticket_row(t)])
        return csv_response(table, f"{key}-tickets.csv")
    return render(
        request,
        "desk/reports/tickets.html",
        {
            "area": "desk",
            "parsed": parsed,
            "metric": metrics.METRICS[key].compute(parsed.filters).label
            if key in metrics.METRICS
            else key,
            "rows": [(t, _ticket_row(t)) for t in rows],
            "total": total,
            "limit": DRILL_LIMIT,
            "csv_query": request.GET.urlencode() + "&format=csv",
        },
    )


def _ticket_row(t: Ticket) -> list[str]:
    return [
        t.reference,
        t.subject,
        t.community.name,
        t.get_status_display(),
        t.get_severity_display(),
        t.get_tier_display(),
        timezone.localtime(t.created_at).strftime("%Y-%m-%d %H:%M"),
    ]


@agent_required
@require_POST
def funding(request: HttpRequest, reference: str) -> HttpResponse:
    """Mark a request as coming with dedicated funding, or not, and re-rank it."""
    ticket = ticket_or_404(request, reference)
    funded = request.POST.get("funded") == "1"
    priority = ticket_funding_set(ticket=ticket, funded=funded, actor=current_user(request))
    messages.success(request, f"Priority {priority.score}: {'; '.join(priority.reasons)}.")
    return redirect("desk:ticket", reference=ticket.reference)


def priority_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    """The ticket's budget-aware priority and its reasons (reports.priority)."""
    return Panel(
        "Priority",
        "desk/reports/priority_panel.html",
        {"priority_score": ticket.priority_score, "priority_reasons": ticket.priority_reasons},
    )
