"""On call: who is on call now (with the backup), a schedule's calendar (week and month),
"cover my shift", and handoff notes (the outgoing person writes one at each handoff, the
incoming person reads and acknowledges it, with the open pages listed beside)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.oncall.feeds import feed_path
from incidents.oncall.models import HandoffNote, Schedule
from incidents.oncall.rotation import local_to_utc
from incidents.oncall.selectors import (
    handoff_find,
    handoff_notes_for_incoming,
    handoffs_due,
    on_call_board,
    schedule_calendar,
    schedules_for,
    upcoming_shifts_of,
)
from incidents.oncall.services import handoff_note_acknowledge, handoff_note_write, shift_cover
from web.access import agent_required, current_user
from web.desk.forms import show_refusal
from web.desk.oncall import (
    CoverForm,
    HandoffNoteForm,
    agents_except,
    calendar_range,
    calendar_weeks,
    cover_url,
    handoff_url,
    open_pages,
)
from web.desk.views.common import HtmxHttpRequest

MY_SHIFTS_AHEAD = timedelta(days=14)


@agent_required
@require_GET
def now(request: HtmxHttpRequest) -> HttpResponse:
    """Who is on call on each schedule, until when, who is next, and the backup; my own
    shifts; the handoff notes I owe and the latest handed to me; the open pages."""
    user = current_user(request)
    at = timezone.now()
    board = on_call_board(at)
    context: dict[str, Any] = {
        "area": "desk",
        "now": at,
        "board": [(row, feed_path(schedule=row.schedule)) for row in board],
        "my_feed": feed_path(user=user),
        "my_shifts": [
            (schedule, shift, cover_url(schedule, max(shift.start, at), shift.end))
            for schedule, shift in upcoming_shifts_of(user, at, at + MY_SHIFTS_AHEAD)
        ],
        "handoffs_due": [
            (due, handoff_url(due.schedule, due.handoff_at)) for due in handoffs_due(user, at)
        ],
        "notes_for_me": handoff_notes_for_incoming(user, at),
        "open_pages": open_pages(),
    }
    return render(request, "desk/oncall/now.html", context)


def _anchor(request: HtmxHttpRequest, zone: ZoneInfo) -> date:
    return parse_date(request.GET.get("date", "") or "") or timezone.now().astimezone(zone).date()


@agent_required
@require_GET
def schedule_calendar_page(request: HtmxHttpRequest, schedule_id: int) -> HttpResponse:
    """`?view=week` (default) or `month`, around `?date=YYYY-MM-DD` (default today), in
    the schedule's own time zone."""
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    zone = ZoneInfo(schedule.time_zone)
    view = "month" if request.GET.get("view") == "month" else "week"
    try:
        anchor = _anchor(request, zone)
    except ValueError:  # a date such as 2026-02-30
        anchor = timezone.now().astimezone(zone).date()
    first, last = calendar_range(view, anchor)
    start = local_to_utc(datetime.combine(first, datetime.min.time()), zone)
    end = local_to_utc(datetime.combine(last, datetime.min.time()), zone)
    cal = schedule_calendar(schedule, start, end)
    if view == "month":
        before = (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
        after = (anchor.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        before, after = anchor - timedelta(days=7), anchor + timedelta(days=7)
    context = {
        "area": "desk",
        "schedule": schedule,
        "view": view,
        "anchor": anchor,
        "month": anchor.replace(day=1),
        "weeks": calendar_weeks(cal, first, last),
        "before": before,
        "after": after,
        "today": timezone.now().astimezone(zone).date(),
        "feed": feed_path(schedule=schedule),
    }
    return render(request, "desk/oncall/calendar.html", context)


def _cover_form(request: HtmxHttpRequest, data: Any = None, initial: Any = None) -> CoverForm:
    user = current_user(request)
    return CoverForm(
        data,
        initial=initial,
        schedules=list(schedules_for(user).order_by("name")),
        colleagues=list(agents_except(user)),
    )


@agent_required
@require_http_methods(["GET", "POST"])
def cover(request: HtmxHttpRequest) -> HttpResponse:
    """Ask a colleague to cover all or part of my shift: an override for them."""
    user = current_user(request)
    if request.method == "POST":
        form = _cover_form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                override = shift_cover(
                    schedule=form.schedules[data["schedule"]],
                    requester=user,
                    colleague=form.colleagues[data["colleague"]],
                    start=data["start"],
                    end=data["end"],
                    reason=data["reason"],
                )
            except ValidationError as error:
                show_refusal(form, error)
            else:
                local = timezone.localtime
                messages.success(
                    request,
                    f"{override.user.display_name} covers you on {override.schedule.name} "
                    f"from {local(override.start):%a %d %b %H:%M} "
                    f"until {local(override.end):%a %d %b %H:%M}.",
                )
                return redirect("desk:oncall")
        return render(request, "desk/oncall/cover.html", {"area": "desk", "form": form}, status=400)
    initial = {
        key: request.GET[key] for key in ("schedule", "start", "end") if request.GET.get(key)
    }
    for key in ("start", "end"):
        if key in initial:
            parsed = parse_datetime(initial[key])
            initial[key] = timezone.localtime(parsed).strftime("%Y-%m-%dT%H:%M") if parsed else ""
    return render(
        request,
        "desk/oncall/cover.html",
        {"area": "desk", "form": _cover_form(request, initial=initial)},
    )


@agent_required
@require_http_methods(["GET", "POST"])
def handoff(request: HtmxHttpRequest, schedule_id: int) -> HttpResponse:
    """Write the note for the handoff at `?at=` (an ISO instant) where I hand over."""
    user = current_user(request)
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    at = parse_datetime(request.GET.get("at", "") or "")
    if at is None or timezone.is_naive(at):
        messages.error(request, "That handoff link is incomplete: choose the handoff below.")
        return redirect("desk:oncall")
    handoff_row = handoff_find(schedule, at)
    note = HandoffNote.objects.filter(schedule=schedule, handoff_at=at).first()
    status = 200
    if request.method == "POST":
        form = HandoffNoteForm(request.POST)
        if form.is_valid():
            try:
                saved = handoff_note_write(
                    schedule=schedule, handoff_at=at, author=user, **form.cleaned_data
                )
            except ValidationError as error:
                show_refusal(form, error)
            else:
                to = f" for {saved.incoming.display_name}" if saved.incoming else ""
                messages.success(request, f"Handoff note on {schedule.name} saved{to}.")
                return redirect("desk:oncall")
        status = 400
    else:
        initial = {f: getattr(note, f) for f in HandoffNoteForm.base_fields} if note else None
        form = HandoffNoteForm(initial=initial)
    context = {
        "area": "desk",
        "schedule": schedule,
        "at": at,
        "handoff": handoff_row,
        "note": note,
        "form": form,
        "open_pages": open_pages(),
        "action": handoff_url(schedule, at),
    }
    return render(request, "desk/oncall/handoff.html", context, status=status)


@agent_required
@require_POST
def handoff_acknowledge(request: HtmxHttpRequest, note_id: int) -> HttpResponse:
    note = get_object_or_404(HandoffNote.objects.select_related("schedule", "outgoing"), pk=note_id)
    try:
        handoff_note_acknowledge(note=note, user=current_user(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"You have read {note.outgoing.display_name}'s handoff note on {note.schedule.name}.",
        )
    return redirect("desk:oncall")
