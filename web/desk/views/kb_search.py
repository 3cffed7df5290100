"""The knowledge base's search analytics for agents: what people searched, what found
nothing, and which articles spared them a request (knowledgebase.search.selectors)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from knowledgebase.search import embeddings
from knowledgebase.search.selectors import (
    deflection_days,
    searches_without_result,
    top_deflecting_articles,
    top_searches,
    totals,
)
from web.access import agent_required

PERIODS = {"7": 7, "30": 30, "90": 90}
DEFAULT_PERIOD = "30"


@require_GET
@agent_required
def analytics(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("days", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    now = timezone.now()
    since = now - timedelta(days=PERIODS[period])
    context = {
        "area": "desk",
        "kb_page": "analytics",
        "periods": list(PERIODS),
        "period": period,
        "since": since,
        "totals": totals(since=since, now=now),
        "top": top_searches(since=since),
        "empty": searches_without_result(since=since),
        "deflecting": top_deflecting_articles(since=since, now=now),
        "deflection_days": deflection_days().days,
        "semantic": embeddings.status(),
    }
    return render(request, "desk/kb/analytics.html", context)
