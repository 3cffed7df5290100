"""The portal's incidents: a community's incident history with public timelines and this
month's uptime. Only incidents that affect the viewer's current community, only public
entries and updates, and no other community's name (even for staff looking at the portal)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.messages import for_reader
from incidents.models import Incident, StatusUpdate, TimelineEntry
from incidents.selectors import community_incidents
from incidents.uptime import community_uptime
from slas.selectors import humanize
from web.portal.place import portal_place
from web.portal.views.common import PortalRequest, portal_context

PAGE_SIZE = 50


@require_GET
def incidents(request: PortalRequest) -> HttpResponse:
    place = portal_place(request)
    if place.community is None:
        raise Http404("No community.")
    today = timezone.localdate()
    figure = community_uptime(community=place.community, year=today.year, month=today.month)
    rows = list(community_incidents(community=place.community)[:PAGE_SIZE])
    return render(
        request,
        "portal/incidents/list.html",
        portal_context(
            place,
            "incidents",
            rows=rows,
            figure=figure,
            downtime=humanize(figure.downtime) if figure.downtime else "none",
            month=today.strftime("%B %Y"),
        ),  # fmt: skip
    )


@require_GET
def incident(request: PortalRequest, incident_id: int) -> HttpResponse:
    place = portal_place(request)
    if place.community is None:
        raise Http404("No such incident.")
    found = community_incidents(community=place.community).filter(pk=incident_id).first()
    if found is None:
        raise Http404("No such incident.")
    entries = TimelineEntry.objects.filter(incident=found, public=True).order_by("at", "id")
    updates = StatusUpdate.objects.filter(incident=found).values_list("pk", flat=True)
    shown = [{"entry": e, "text": for_reader(e.text, place.community.name)} for e in entries]
    return render(
        request,
        "portal/incidents/detail.html",
        portal_context(place, "incidents", incident=found, entries=shown, updates=len(updates)),
    )


__all__ = ["Incident"]
