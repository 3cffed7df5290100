"""The desk's pages: the list of pages (open first), a page with its timeline and its
notifications, the actions (acknowledge, unacknowledge, resolve, silence) and the figures
(MTTA, MTTR, pages per person per week). Agents only, like the rest of the desk.

Each action posts one form and calls one paging service (incidents.paging.services.pages),
recording that it came from the desk; a refusal shows the page again with the reason beside
the form (400, or 409 when the page's state refuses it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError, ErrorKind
from incidents.paging.figures import MAX_BUCKETS, PERIODS, Bucket, bucket_count, page_figures
from incidents.paging.models import (
    CauseKind,
    EscalationStep,
    Page,
    PageEvent,
    PageEventKind,
    PageState,
    StepKind,
    Via,
)
from incidents.paging.selectors import open_pages, page_timeline
from incidents.paging.services.pages import (
    MAX_SILENCE_MINUTES,
    page_acknowledge,
    page_resolve,
    page_silence,
    page_unacknowledge,
)
from slas.selectors import humanize
from web.access import agent_required, current_user
from web.desk.forms import DeskForm, show_refusal
from web.desk.views.common import HtmxHttpRequest

PAGE_SIZE = 50
OPEN_STATES = (PageState.TRIGGERED, PageState.ACKNOWLEDGED)


# ---------------------------------------------------------------- forms


class PageFilterForm(DeskForm):
    id_prefix = "pages"
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any"), ("open", "Open (triggered or acknowledged)"), *PageState.choices],
    )
    cause = forms.ChoiceField(
        label="Cause", required=False, choices=[("", "Any"), *CauseKind.choices]
    )


class PageActionForm(DeskForm):
    """Acknowledge, unacknowledge or resolve; `next` is where to go back to (a desk pages
    URL), the page itself when empty."""

    id_prefix = "action"
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(label="Reason", required=False, max_length=300)

    def clean_next(self) -> str:
        value: str = self.cleaned_data["next"]
        if value and not (
            url_has_allowed_host_and_scheme(value, allowed_hosts=None)
            and value.startswith(reverse("desk:pages"))
        ):
            return ""
        return value


class SilenceForm(PageActionForm):
    id_prefix = "silence"
    # The limits are the service's; the browser hint only helps.
    minutes = forms.IntegerField(
        label="Minutes",
        initial=30,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SILENCE_MINUTES}),
    )


class FiguresForm(DeskForm):
    id_prefix = "figures"
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period = forms.ChoiceField(
        label="Per", choices=[(p, p.capitalize()) for p in PERIODS], initial="week", required=False
    )
    tz = forms.CharField(label="Time zone", required=False, max_length=64)

    def __init__(self, *args: Any, default_tz: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_tz = default_tz
        self.fields["tz"].widget.attrs["placeholder"] = default_tz

    def clean_tz(self) -> str:
        value = (self.cleaned_data.get("tz") or "").strip() or self.default_tz
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("Unknown time zone (e.g. Europe/Berlin).") from exc
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        zone = ZoneInfo(data["tz"])
        today = timezone.now().astimezone(zone).date()
        last = data.get("end") or today
        first = data.get("start") or last - timedelta(weeks=8) + timedelta(days=1)
        if last < first:
            self.add_error("end", "The last day comes on or after the first.")
            return data
        start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        period = data.get("period") or "week"
        if bucket_count(start, end, period, zone) > MAX_BUCKETS:
            self.add_error(
                "start", f"At most {MAX_BUCKETS} periods: shorten the range or use longer periods."
            )
            return data
        data.update(range_start=start, range_end=end, period=period, first=first, last=last)
        return data


# ---------------------------------------------------------------- reading


def _pages(filters: PageFilterForm) -> QuerySet[Page]:
    pages = open_pages().prefetch_related(
        Prefetch(
            "policy__steps",
            queryset=EscalationStep.objects.select_related("schedule", "team").order_by(
                "position", "id"
            ),
        )
    )
    if filters.is_valid():
        state, cause = filters.cleaned_data["state"], filters.cleaned_data["cause"]
        if state == "open":
            pages = pages.filter(state__in=OPEN_STATES)
        elif state:
            pages = pages.filter(state=state)
        if cause:
            pages = pages.filter(cause=cause)
    return pages


def _step_label(step: EscalationStep) -> str:
    if step.kind == StepKind.NOTIFY_ON_CALL and step.schedule is not None:
        return f"notify on call in {step.schedule.name}"
    if step.kind == StepKind.NOTIFY_TEAM and step.team is not None:
        return f"notify team {step.team.name}"
    if step.kind == StepKind.WAIT:
        return f"wait {step.wait_minutes} min"
    return str(step.get_kind_display()).lower()


def current_step(page: Page) -> str:
    """Where the escalation stands, in words (the policy's steps prefetched)."""
    if page.policy is None:
        return "No policy"
    if page.escalation_done:
        return "Finished: fallback notified"
    steps = list(page.policy.steps.all())
    repeat = f" (repeat {page.repeat})" if page.repeat else ""
    if page.step_index >= len(steps):
        return f"Fallback next{repeat}"
    verb = "Next" if page.state == PageState.TRIGGERED else "Stopped before"
    step = steps[page.step_index]
    return f"{verb}: step {page.step_index + 1} of {len(steps)}, {_step_label(step)}{repeat}"


@dataclass(frozen=True)
class Row:
    page: Page
    step: str


def _page_query(request: HtmxHttpRequest, **changes: str | None) -> str:
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else ""


def _list_context(request: HtmxHttpRequest) -> dict[str, Any]:
    filters = PageFilterForm(request.GET)
    number = request.GET.get("page", "1")
    number_int = int(number) if number.isdigit() and int(number) >= 1 else 1
    offset = (number_int - 1) * PAGE_SIZE
    # One row more than shown says whether there is a next page, without counting.
    fetched = list(_pages(filters)[offset : offset + PAGE_SIZE + 1])
    shown = fetched[:PAGE_SIZE]
    list_url = reverse("desk:pages")
    previous_url = None
    if number_int > 1:
        previous = _page_query(request, page=str(number_int - 1) if number_int > 2 else None)
        previous_url = list_url + previous
    next_url = None
    if len(fetched) > PAGE_SIZE:
        next_url = list_url + _page_query(request, page=str(number_int + 1))
    return {
        "area": "desk",
        "filters": filters,
        "filtered": bool(request.GET.get("state") or request.GET.get("cause")),
        "rows": [Row(page=p, step=current_step(p)) for p in shown],
        "number": number_int,
        "next_url": next_url,
        "previous_url": previous_url,
        "here": list_url + _page_query(request),
        "list_url": list_url,
    }


@agent_required
@require_GET
def pages(request: HtmxHttpRequest) -> HttpResponse:
    """Open pages first (triggered, then acknowledged), newest first; the table refreshes
    itself every 30 seconds (htmx asks for the table alone)."""
    context = _list_context(request)
    if request.htmx and request.htmx.target == "pages-table":
        return render(request, "desk/paging/partials/table.html", context)
    return render(request, "desk/paging/list.html", context)


@agent_required
@require_GET
def pages_count(request: HtmxHttpRequest) -> HttpResponse:
    """How many pages are open, for the desk's navigation (one count on the open-pages
    index); loaded by htmx after the page, so no desk page pays for it."""
    count = Page.objects.exclude(state=PageState.RESOLVED).count()
    return render(request, "desk/paging/partials/count.html", {"open_pages": count})


def _page_or_404(page_id: int) -> Page:
    page = (
        open_pages()
        .prefetch_related(
            Prefetch(
                "policy__steps",
                queryset=EscalationStep.objects.select_related("schedule", "team").order_by(
                    "position", "id"
                ),
            )
        )
        .filter(pk=page_id)
        .first()
    )
    if page is None:
        raise Http404("No such page.")
    return page


@dataclass(frozen=True)
class TimelineEntry:
    event: PageEvent
    text: str


def describe(event: PageEvent) -> str:
    """What a timeline row says, beside its kind, actor and time."""
    d = event.detail or {}
    kind = event.kind
    if kind in (PageEventKind.NOTIFIED, PageEventKind.FALLBACK, PageEventKind.REMINDED):
        who = d.get("user") or "nobody"
        why = f" ({d['why']})" if d.get("why") else ""
        importance = " · important" if d.get("importance") == "important" else ""
        return f"{who}{why}{importance}"
    if kind == PageEventKind.TRIGGERED:
        if "policy" not in d:
            return ""
        return f"policy {d['policy']}" if d["policy"] else "no policy"
    if kind == PageEventKind.MAINTENANCE:
        return str(d.get("reason") or "a maintenance window: nobody is notified")
    if kind == PageEventKind.UNROUTED:
        return "no route names a policy for this cause and severity: nobody is notified"
    if kind == PageEventKind.NOBODY:
        return str(d.get("why", ""))
    if kind == PageEventKind.WAITING and d.get("until"):
        return f"until {_when(d['until'])}"
    if kind == PageEventKind.SILENCED:
        return f"{d.get('minutes')} min, until {_when(d.get('until', ''))}"
    if kind == PageEventKind.OUTSIDE_WINDOW and d.get("opens"):
        return f"waits for the window to open at {_when(d['opens'])}"
    if kind == PageEventKind.WEBHOOK:
        return str(d.get("url", ""))
    if kind == PageEventKind.REPEATED:
        return f"repeat {d.get('repeat')} of {d.get('of')}, from step {d.get('back_to')}"
    if kind == PageEventKind.RETRIGGERED:
        return f"trigger {d.get('trigger_count')}"
    if kind in (PageEventKind.RESOLVED, PageEventKind.UNACKNOWLEDGED) and d.get("reason"):
        return str(d["reason"])
    if kind in (PageEventKind.ACKNOWLEDGED, PageEventKind.RESOLVED) and d.get(
        "cancelled_deliveries"
    ):
        return f"{d['cancelled_deliveries']} pending notification(s) cancelled"
    return ""


def _when(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _detail_context(
    request: HtmxHttpRequest, page: Page, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    from incidents.notify.selectors import notifications_for

    bound = bound or {}
    return {
        "area": "desk",
        "page": page,
        "step": current_step(page),
        "timeline": [TimelineEntry(e, describe(e)) for e in page_timeline(page)],
        "notifications": list(notifications_for("page", page.pk)),
        "forms": {
            "acknowledge": PageActionForm(auto_id="acknowledge_%s"),
            "unacknowledge": PageActionForm(auto_id="unacknowledge_%s"),
            "resolve": PageActionForm(auto_id="resolve_%s"),
            "silence": SilenceForm(),
            **bound,
        },
        "refused": next(iter(bound.values()), None),
        "is_open": page.state != PageState.RESOLVED,
        "list_url": reverse("desk:pages"),
    }


@agent_required
@require_GET
def page(request: HtmxHttpRequest, page_id: int) -> HttpResponse:
    page = _page_or_404(page_id)
    return render(request, "desk/paging/detail.html", _detail_context(request, page))


# ---------------------------------------------------------------- actions


def _act(
    request: HtmxHttpRequest,
    page_id: int,
    *,
    name: str,
    form: PageActionForm,
    call: Callable[[Page, dict[str, Any]], str],
) -> HttpResponse:
    """Run one paging service for the page: back (to `next` or the page) saying what was
    done, or the page again with the refusal beside the form."""
    page = _page_or_404(page_id)
    status = 400
    if form.is_valid():
        try:
            done = call(page, form.cleaned_data)
        except (ApplicationError, ValidationError) as error:
            if isinstance(error, ApplicationError) and error.kind is ErrorKind.CONFLICT:
                status = 409
            show_refusal(form, error)
        else:
            messages.success(request, done)
            return redirect(form.cleaned_data["next"] or reverse("desk:page", args=[page.pk]))
    page = _page_or_404(page_id)
    return render(
        request,
        "desk/paging/detail.html",
        _detail_context(request, page, {name: form}),
        status=status,
    )


def _name(page: Page, *, first: bool = False) -> str:
    return f"{'Page' if first else 'page'} {page.pk} ({page.title})"


@agent_required
@require_POST
def acknowledge(request: HtmxHttpRequest, page_id: int) -> HttpResponse:
    def call(page: Page, data: dict[str, Any]) -> str:
        was = page.state
        done = page_acknowledge(page=page, actor=current_user(request), via=Via.DESK)
        if was == PageState.ACKNOWLEDGED:
            by = done.acknowledged_by.display_name if done.acknowledged_by else "someone"
            return f"{_name(done, first=True)} was acknowledged already, by {by}."
        return f"Acknowledged {_name(done)}: its escalation has stopped."

    form = PageActionForm(request.POST, auto_id="acknowledge_%s")
    return _act(request, page_id, name="acknowledge", form=form, call=call)


@agent_required
@require_POST
def unacknowledge(request: HtmxHttpRequest, page_id: int) -> HttpResponse:
    def call(page: Page, data: dict[str, Any]) -> str:
        was = page.state
        done = page_unacknowledge(
            page=page, actor=current_user(request), via=Via.DESK, reason=data["reason"]
        )
        if was == PageState.TRIGGERED:
            return f"{_name(done, first=True)} was not acknowledged: nothing changed."
        return f"Unacknowledged {_name(done)}: its escalation goes on."

    form = PageActionForm(request.POST, auto_id="unacknowledge_%s")
    return _act(request, page_id, name="unacknowledge", form=form, call=call)


@agent_required
@require_POST
def resolve(request: HtmxHttpRequest, page_id: int) -> HttpResponse:
    def call(page: Page, data: dict[str, Any]) -> str:
        was = page.state
        done = page_resolve(
            page=page, actor=current_user(request), via=Via.DESK, reason=data["reason"]
        )
        if was == PageState.RESOLVED:
            return f"{_name(done, first=True)} was resolved already."
        return f"Resolved {_name(done)}."

    form = PageActionForm(request.POST, auto_id="resolve_%s")
    return _act(request, page_id, name="resolve", form=form, call=call)


@agent_required
@require_POST
def silence(request: HtmxHttpRequest, page_id: int) -> HttpResponse:
    def call(page: Page, data: dict[str, Any]) -> str:
        minutes = data["minutes"]
        done = page_silence(page=page, minutes=minutes, actor=current_user(request), via=Via.DESK)
        until = timezone.localtime(done.silenced_until).strftime("%H:%M %Z")
        return f"Silenced {_name(done)} for {minutes} min: no escalation before {until}."

    form = SilenceForm(request.POST)
    return _act(request, page_id, name="silence", form=form, call=call)


# ---------------------------------------------------------------- figures


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{round(seconds)} s"
    return humanize(timedelta(seconds=seconds))


@dataclass(frozen=True)
class FigureRow:
    label: str
    pages: int
    acknowledged: int
    mtta: str
    resolved: int
    mttr: str


def _row(label: str, bucket: Bucket) -> FigureRow:
    return FigureRow(
        label=label,
        pages=bucket.pages,
        acknowledged=bucket.acknowledged,
        mtta=_duration(bucket.mtta_seconds),
        resolved=bucket.resolved,
        mttr=_duration(bucket.mttr_seconds),
    )


def _period_label(start: datetime, period: str) -> str:
    if period == "month":
        return start.strftime("%B %Y")
    if period == "week":
        return f"Week of {start:%Y-%m-%d}"
    return start.strftime("%a %Y-%m-%d")


@agent_required
@require_GET
def figures(request: HtmxHttpRequest) -> HttpResponse:
    """MTTA and MTTR per period, schedule and team, and pages per person per week."""
    user = current_user(request)
    # Unbound (no query string): the last eight weeks, by week, in the viewer's time zone.
    form = FiguresForm(request.GET or {"period": "week"}, default_tz=user.time_zone or "UTC")
    context: dict[str, Any] = {"area": "desk", "form": form}
    if not form.is_valid():
        return render(request, "desk/paging/figures.html", context, status=400)
    data = form.cleaned_data
    result = page_figures(
        start=data["range_start"],
        end=data["range_end"],
        period=data["period"],
        time_zone=data["tz"],
    )
    context.update(
        figures=result,
        first=data["first"],
        last=data["last"],
        overall=[_row(_period_label(b.start, result.period), b) for b in result.overall.buckets],
        total=_row("All periods", result.overall.total),
        schedules=[_row(s.name, s.total) for s in result.schedules],
        teams=[_row(t.name, t.total) for t in result.teams],
        weeks=[w.strftime("%Y-%m-%d") for w in result.weeks],
        people=[
            {"person": p, "cells": list(zip(p.pages, p.notifications, strict=True))}
            for p in result.people
        ],
    )
    return render(request, "desk/paging/figures.html", context)
