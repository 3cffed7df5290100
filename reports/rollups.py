"""Daily roll-ups: the figures of reports.metrics per community and whole past day.

A dashboard's period is split (`split`) into the whole days the roll-ups hold and are clean
(no hour of theirs marked in RollupDirtyHour) and the rest, which is read from the source
rows as before: the period's partial first and last days, today, days marked since their
last build, and every day when the filters narrow by ticket (tier, severity, channel,
agent, team), which the roll-ups do not break down by. Counts add up; medians are taken
over the durations themselves, which the roll-ups keep per day, together with the source
rows' (`medians`), so a figure is the same whichever way it is read.

The build (`rollups_refresh`, beat every minute) takes the marked hours of past days,
rebuilds those days from the source rows with the same queries the figures use
(reports.metrics.ROLLUP_GROUPS and ROLLUP_DURATIONS), and extends the days held to
yesterday. A change made while a day is rebuilt marks it again, so it is rebuilt next time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from reports.models import DailyRollup, RollupState

log = logging.getLogger(__name__)

Ranges = tuple[tuple[datetime, datetime], ...]
ROLLUP_LOCK = 0x5D_2011  # pg_advisory_xact_lock key of the build


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _local_days(hour: datetime, zone: ZoneInfo) -> set[date]:
    """The local days a marked hour touches: two where the zone is off the hour by a half."""
    return {at.astimezone(zone).date() for at in (hour, hour + timedelta(minutes=59, seconds=59))}


@dataclass(frozen=True)
class Split:
    """A period as the whole days read from the roll-ups (`days`, for `community_ids`) and
    the time ranges read from the source rows (`ranges`)."""

    days: tuple[date, ...]
    community_ids: tuple[int, ...]
    ranges: Ranges


def _state_and_dirty(start: datetime, end: datetime) -> tuple[Any, list[datetime]]:
    """The roll-ups' state and the marked hours within [start - 1 h, end): one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.time_zone, s.first_day, s.last_day,
                ARRAY(SELECT hour FROM reports_rollupdirtyhour
                      WHERE hour > %s - interval '1 hour' AND hour < %s)
            FROM (SELECT 1) one LEFT JOIN reports_rollupstate s ON s.id = 1
            """,
            [start, end],
        )
        zone, first, last, dirty = cursor.fetchone()
    return (None if zone is None else (zone, first, last)), list(dirty or [])


def split(
    start: datetime, end: datetime, community_ids: tuple[int, ...], *, by_ticket: bool
) -> Split:
    """[start, end) as roll-up days and source ranges. `by_ticket`: the filters narrow by a
    ticket's own fields, so everything is read from the source rows."""
    whole: Ranges = ((start, end),)
    if by_ticket or not community_ids or end <= start:
        return Split((), community_ids, whole)
    state, dirty = _state_and_dirty(start, end)
    zone = desk_zone()
    if state is None or state[0] != settings.TIME_ZONE:
        return Split((), community_ids, whole)
    _, held_from, held_to = state
    first = start.astimezone(zone).date()
    if day_start(first, zone) < start:
        first += timedelta(days=1)
    last = end.astimezone(zone).date() - timedelta(days=1)
    first, last = max(first, held_from), min(last, held_to)
    marked = {day for hour in dirty for day in _local_days(hour, zone)}
    days = []
    day = first
    while day <= last:
        if day not in marked:
            days.append(day)
        day += timedelta(days=1)
    if not days:
        return Split((), community_ids, whole)
    ranges: list[tuple[datetime, datetime]] = []
    cursor_at = start
    for day in days:
        begins, ends = day_start(day, zone), day_start(day + timedelta(days=1), zone)
        if begins > cursor_at:
            ranges.append((cursor_at, begins))
        cursor_at = ends
    if cursor_at < end:
        ranges.append((cursor_at, end))
    return Split(tuple(days), community_ids, tuple(ranges))


def rows(s: Split) -> QuerySet[DailyRollup]:
    return DailyRollup.objects.filter(day__in=s.days, community_id__in=s.community_ids)


def sums_by(s: Split, key: str, fields: Sequence[str]) -> dict[Any, dict[str, int]]:
    """The roll-ups' counts over the split's days, per `key` ("community_id" or "day")."""
    if not s.days:
        return {}
    sums: dict[str, Any] = {name: Sum(name) for name in fields}
    found: Any = rows(s).order_by().values(key).annotate(**sums)
    return {r[key]: {name: int(r[name] or 0) for name in fields} for r in found}


def json_sums(s: Split, column: str) -> dict[str, int]:
    """A breakdown kept as {key: count} per row, summed over the split's days."""
    if not s.days:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.key, SUM(e.value::int) FROM reports_dailyrollup r,
                jsonb_each_text(r.{column}) e
            WHERE r.day = ANY(%s) AND r.community_id = ANY(%s)
            GROUP BY e.key
            """,  # noqa: S608 (a column name of the model, not input)
            [list(s.days), list(s.community_ids)],
        )
        return {key: int(n) for key, n in cursor.fetchall()}


def medians(
    s: Split, sources: dict[str, QuerySet[Any] | None]
) -> dict[str, tuple[float | None, int]]:
    """Per roll-up column of durations: the median and the count of its values over the
    split's days together with the one value per row of its source (a queryset of one
    float column over the split's ranges, or None). PERCENTILE_CONT over them all, every
    column in one query."""
    parts: list[str] = []
    params: list[Any] = []
    for key, (column, source) in enumerate(sources.items()):
        if s.days:
            parts.append(
                f"SELECT {key} AS k, unnest(r.{column}) AS v FROM reports_dailyrollup r "  # noqa: S608
                "WHERE r.day = ANY(%s) AND r.community_id = ANY(%s)"
            )
            params += [list(s.days), list(s.community_ids)]
        if source is not None:
            sql, source_params = source.query.sql_with_params()
            parts.append(f"SELECT {key} AS k, v::float8 AS v FROM ({sql}) src(v)")  # noqa: S608
            params += list(source_params)
    if not parts:
        return dict.fromkeys(sources, (None, 0))
    # One aggregate per column, FILTERed (each sorts only its own values), rather than a
    # GROUP BY, which would sort all of them together first.
    aggregates = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FILTER (WHERE k = {key}), "
        f"count(v) FILTER (WHERE k = {key})"
        for key in range(len(sources))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {aggregates} FROM (" + " UNION ALL ".join(parts) + ") values_",  # noqa: S608
            params,
        )
        row = cursor.fetchone()
    return {
        column: ((None if row[2 * key] is None else float(row[2 * key])), int(row[2 * key + 1]))
        for key, column in enumerate(sources)
    }


# ------------------------------------------------------------------ building


def build_days(days: Iterable[date]) -> int:
    """(Re)build the roll-up rows of these days for every community; rows built."""
    from communities.models import Community
    from reports import metrics

    zone = desk_zone()
    community_ids = tuple(Community.objects.order_by("pk").values_list("pk", flat=True))
    built = 0
    for day in sorted(set(days)):
        begins, ends = day_start(day, zone), day_start(day + timedelta(days=1), zone)
        f = metrics.Filters(start=begins, end=ends, community_ids=community_ids)
        values: dict[int, dict[str, Any]] = {}
        for group in metrics.ROLLUP_GROUPS.values():
            for community_id, counts in group(f, ((begins, ends),)).items():
                values.setdefault(community_id, {}).update(counts)
        for column, durations in metrics.ROLLUP_DURATIONS.items():
            for community_id, found in durations.per_community(f).items():
                values.setdefault(community_id, {})[column] = found
        DailyRollup.objects.filter(day=day).delete()
        DailyRollup.objects.bulk_create(
            DailyRollup(day=day, community_id=community_id, **fields)
            for community_id, fields in values.items()
        )
        built += len(values)
    return built


def _first_day(zone: ZoneInfo) -> date | None:
    """The first local day any row the roll-ups sum was written on."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT LEAST(
                (SELECT MIN(created_at) FROM tickets_ticket),
                (SELECT MIN(started_at) FROM slas_slatarget),
                (SELECT MIN(answered_at) FROM tickets_satisfactionrating))
            """
        )
        (first,) = cursor.fetchone()
    return None if first is None else first.astimezone(zone).date()


def rollups_refresh(*, now: datetime | None = None, days_per_run: int | None = None) -> int:
    """Rebuild the past days marked since their build and extend the days held to
    yesterday (from the first day with data when nothing is held yet, or after a change of
    the desk's time zone). `days_per_run` bounds a first build, which then goes on next
    run from where it stopped. Returns the number of days built."""
    zone = desk_zone()
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    yesterday = today - timedelta(days=1)
    with transaction.atomic():
        with connection.cursor() as cursor:  # one build at a time; another waits its turn
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        state = RollupState.objects.filter(pk=1).first()
        if state is not None and state.time_zone != settings.TIME_ZONE:
            DailyRollup.objects.all().delete()
            state.delete()
            state = None
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM reports_rollupdirtyhour WHERE hour < %s RETURNING hour",
                [day_start(today, zone)],
            )
            marked = [row[0] for row in cursor.fetchall()]
        # Marks of today's hours stay: today is built whole once it is over.
        to_build: set[date] = set()
        if state is not None:
            first_day, last_day = state.first_day, state.last_day
            to_build = {
                day
                for hour in marked
                for day in _local_days(hour, zone)
                if first_day <= day <= last_day
            }
            begin = state.last_day + timedelta(days=1)
        else:
            first = _first_day(zone)
            begin = first if first is not None else today
        end = yesterday
        if days_per_run is not None and (end - begin).days + 1 > days_per_run:
            end = begin + timedelta(days=days_per_run - 1)
        day = begin
        while day <= end:
            to_build.add(day)
            day += timedelta(days=1)
        if not to_build:
            return 0
        build_days(to_build)
        if begin <= end:
            if state is None:
                state = RollupState(pk=1, time_zone=settings.TIME_ZONE, first_day=begin)
            state.last_day = end
            state.updated_at = now
            state.save()
        log.info("report roll-ups: %d days built", len(to_build))
        return len(to_build)
