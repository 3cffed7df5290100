"""The portal's reports: a representative sees the figures of the communities they
represent (tickets, SLA compliance, support budget used and left, uptime), never another's:
every community comes from their representative memberships, and any other is 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from communities.models import Community
from communities.selectors import representative_community_ids
from reports import dashboards
from reports.filters import PERIODS, Parsed, parse_filters
from tickets.models import Channel, Severity, Tier
from web.access import current_user
from web.portal.place import portal_place
from web.portal.views.common import portal_context


def represented(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The communities this user represents (the portal reports' whole scope)."""
    return Community.objects.filter(pk__in=representative_community_ids(current_user(request)))


def _portal_board(parsed: Parsed) -> dashboards.Dashboard:
    """The desk's Community dashboard over the representative's communities, with no
    drill-down to tickets (the portal's own ticket list is where they read tickets)."""
    return dashboards.community(parsed.filters, dashboards.no_drill)


def _parsed(request: HttpRequest, slug: str | None) -> Parsed:
    scope = represented(request)
    if not scope.exists():
        raise Http404("No such page.")
    params = request.GET.copy()
    if slug is not None:
        params["community"] = slug
    return parse_filters(params, communities=scope)


@login_required
@require_GET
def reports(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    parsed = _parsed(request, slug)
    board = _portal_board(parsed)
    place = portal_place(request)
    return render(
        request,
        "portal/reports/reports.html",
        {
            **portal_context(place, "reports"),
            "board": board,
            "parsed": parsed,
            "query": parsed.query(),
            "periods": list(PERIODS.items()),
            "communities": list(represented(request).order_by("name").values_list("slug", "name")),
            "plans": None,
            "teams": None,
            "tiers": Tier.choices,
            "severities": Severity.choices,
            "channels": Channel.choices,
            "selected": parsed.params,
        },
    )


@login_required
@require_GET
def export(request: HttpRequest, table: str, slug: str | None = None) -> HttpResponse:
    parsed = _parsed(request, slug)
    board = _portal_board(parsed)
    try:
        chosen = board.table(table)
    except KeyError as exc:
        raise Http404("No such table.") from exc
    response = HttpResponse(dashboards.csv_text(chosen), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug or "communities"}-{table}.csv"'
    return response
