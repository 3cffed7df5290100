"""The iCalendar feeds: no sign-in, the signed token is the key (incidents.oncall.feeds)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.errors import NotFound
from incidents.oncall.feeds import feed_for, feed_ics


@require_GET
def ical(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        feed = feed_for(token, now)
    except NotFound as exc:
        raise Http404("No such feed.") from exc
    response = HttpResponse(feed_ics(feed, now), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{feed.filename}"'
    response["Cache-Control"] = "private, max-age=300"
    return response
