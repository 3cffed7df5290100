"""iCalendar feeds of shifts, per schedule and per person, at signed URLs.

The URL carries a token made with django.core.signing (salted, no expiry: calendar apps
poll a feed for months). Whoever holds the URL reads the feed without signing in; a token
that does not verify, or names a schedule or person that is gone, is "not found" and
nothing else. A feed covers FEED_PAST before now to FEED_AHEAD after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core import signing
from django.urls import reverse
from icalendar import Calendar, Event

from core.errors import NotFound
from incidents.oncall.models import Schedule
from incidents.oncall.rotation import Shift
from incidents.oncall.selectors import shifts, upcoming_shifts_of

if TYPE_CHECKING:
    from core.models import User

SALT = "incidents.oncall.ical"
FEED_PAST = timedelta(days=7)
FEED_AHEAD = timedelta(days=60)
PRODID = "-//Support Desk//On-call shifts//EN"


def feed_token(*, schedule: Schedule | None = None, user: User | None = None) -> str:
    if (schedule is None) == (user is None):
        raise TypeError("A feed is of one schedule or of one person.")
    payload = {"s": schedule.pk} if schedule is not None else {"u": user.pk}  # type: ignore[union-attr]
    return signing.dumps(payload, salt=SALT)


def feed_path(*, schedule: Schedule | None = None, user: User | None = None) -> str:
    return reverse("oncall:ical", args=[feed_token(schedule=schedule, user=user)])


@dataclass(frozen=True)
class Feed:
    name: str
    shifts: list[tuple[Schedule, Shift]]
    filename: str


def feed_for(token: str, now: datetime) -> Feed:
    """The feed a token stands for, or NotFound (a tampered token among them)."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise NotFound("No such feed.") from exc
    start, end = now - FEED_PAST, now + FEED_AHEAD
    if isinstance(payload, dict) and isinstance(payload.get("s"), int):
        schedule = Schedule.objects.filter(pk=payload["s"]).first()
        if schedule is None:
            raise NotFound("No such feed.")
        return Feed(
            name=f"On call: {schedule.name}",
            shifts=[(schedule, s) for s in shifts(schedule, start, end)],
            filename=f"oncall-schedule-{schedule.pk}.ics",
        )
    if isinstance(payload, dict) and isinstance(payload.get("u"), int):
        from core.models import User

        user = User.objects.filter(pk=payload["u"], is_active=True, is_staff=True).first()
        if user is None:
            raise NotFound("No such feed.")
        return Feed(
            name=f"On call: {user.display_name}",
            shifts=upcoming_shifts_of(user, start, end),
            filename=f"oncall-person-{user.pk}.ics",
        )
    raise NotFound("No such feed.")


def _event(schedule: Schedule, shift: Shift, stamp: datetime) -> Event:
    event = Event()
    who = shift.user.display_name
    event.add(
        "uid", f"oncall-{schedule.pk}-{shift.user.pk}-{int(shift.start.timestamp())}@supportdesk"
    )
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", f"{who} on call · {schedule.name}")
    what = "Override" if shift.source == "override" else f"Layer: {shift.layer_name}"
    event.add("description", f"{what}. Times in UTC; the schedule runs on {schedule.time_zone}.")
    event.add("categories", ["on-call"])
    return event


def feed_ics(feed: Feed, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", feed.name)
    for schedule, shift in feed.shifts:
        calendar.add_component(_event(schedule, shift, now))
    return bytes(calendar.to_ical())
