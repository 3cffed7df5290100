"""Paging figures: mean time to acknowledge (MTTA) and to resolve (MTTR) per period, per
schedule and per team, and pages per person per week (alert fatigue). Read-only, for the
desk's Figures page and GET /api/v1/pages/figures/.

What counts, and from where:

- A page counts in the period its `created_at` (its first trigger) falls in, read in the
  time zone asked for (UTC by default); weeks start on Monday. Pages recorded during a
  maintenance window notified nobody and are left out.
- Time to acknowledge runs from `created_at` to the page's first `acknowledged` event on its
  timeline (an acknowledgement later undone still counts: someone answered then); time to
  resolve runs to `resolved_at` (resolved is final). A page not acknowledged (or not
  resolved) in the end is counted in `pages` and not in the mean.
- A page belongs to every schedule named by a `notify_on_call` step of its policy and every
  team named by a `notify_team` step (each once, however many steps name it): those are the
  people it was meant for. A page with no policy, or a policy of named people only, counts
  only in the overall figures.
- Pages per person per week come from notify's Notification rows with source "page": the
  notifications that were really made (idempotent on their key, so a retried step is not
  counted twice), whoever made them (a step, a repeat, the fallback, a reminder). `pages`
  counts distinct pages, `notifications` every notification. The page timeline's `notified`
  events say the same but keep the person in JSON; the notification row is the record.

Each figure is a sum and a count, so a total over periods (or a mean over several) is exact:
mean = sum / count, never a mean of means. Two queries whatever the number of pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count
from django.db.models.functions import Trunc

from incidents.paging.models import EscalationStep, Page, PageEvent, PageEventKind, StepKind

PERIODS = ("day", "week", "month")
# A figures request covers at most this many periods (a year and a month of days).
MAX_BUCKETS = 400
SOURCE = "page"


@dataclass(frozen=True)
class Bucket:
    """The pages of one period (or of the whole range, for a total)."""

    start: datetime
    pages: int = 0
    acknowledged: int = 0
    ack_seconds: float = 0.0
    resolved: int = 0
    resolve_seconds: float = 0.0

    @property
    def mtta_seconds(self) -> float | None:
        return self.ack_seconds / self.acknowledged if self.acknowledged else None

    @property
    def mttr_seconds(self) -> float | None:
        return self.resolve_seconds / self.resolved if self.resolved else None

    def __add__(self, other: Bucket) -> Bucket:
        return Bucket(
            start=min(self.start, other.start),
            pages=self.pages + other.pages,
            acknowledged=self.acknowledged + other.acknowledged,
            ack_seconds=self.ack_seconds + other.ack_seconds,
            resolved=self.resolved + other.resolved,
            resolve_seconds=self.resolve_seconds + other.resolve_seconds,
        )


@dataclass(frozen=True)
class Series:
    """One line of figures: every page ("all"), or a schedule's or a team's."""

    kind: str  # "all" | "schedule" | "team"
    id: int | None
    name: str
    buckets: list[Bucket]

    @property
    def total(self) -> Bucket:
        total = Bucket(start=self.buckets[0].start)
        for bucket in self.buckets:
            total = total + bucket
        return total


@dataclass(frozen=True)
class PersonWeeks:
    """How often one person was paged, week by week (the Figures' `weeks`)."""

    user_id: int
    name: str
    pages: list[int]
    notifications: list[int]

    @property
    def total_pages(self) -> int:
        return sum(self.pages)

    @property
    def total_notifications(self) -> int:
        return sum(self.notifications)


@dataclass(frozen=True)
class Figures:
    start: datetime
    end: datetime
    period: str
    time_zone: str
    periods: list[datetime]
    overall: Series
    schedules: list[Series]
    teams: list[Series]
    weeks: list[datetime]
    people: list[PersonWeeks] = field(default_factory=list)


# ---------------------------------------------------------------- periods


def _truncate(moment: datetime, period: str, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.replace(tzinfo=zone)


def _step(local: datetime, period: str) -> datetime:
    naive = local.replace(tzinfo=None)
    if period == "day":
        naive += timedelta(days=1)
    elif period == "week":
        naive += timedelta(days=7)
    else:
        naive = naive.replace(year=naive.year + naive.month // 12, month=naive.month % 12 + 1)
    return naive.replace(tzinfo=local.tzinfo)


def period_starts(start: datetime, end: datetime, period: str, zone: ZoneInfo) -> list[datetime]:
    """The local starts of the periods that [start, end) touches, oldest first, as aware
    datetimes in `zone` (wall-clock midnights, across daylight-saving changes)."""
    assert period in PERIODS, period
    starts: list[datetime] = []
    current = _truncate(start, period, zone)
    while current < end:
        starts.append(current)
        current = _step(current, period)
    return starts


def bucket_count(start: datetime, end: datetime, period: str, zone: ZoneInfo) -> int:
    """How many periods [start, end) touches, without listing more than MAX_BUCKETS + 1."""
    count = 0
    current = _truncate(start, period, zone)
    while current < end and count <= MAX_BUCKETS:
        count += 1
        current = _step(current, period)
    return count


# ---------------------------------------------------------------- the queries


def _mean_times_sql() -> str:
    page, event, step = Page._meta.db_table, PageEvent._meta.db_table, EscalationStep._meta.db_table
    from incidents.oncall.models import Schedule
    from routing.models import Team

    schedule, team = Schedule._meta.db_table, Team._meta.db_table
    # Table names from the models; every value is a query parameter.
    return f"""
        WITH p AS (
            SELECT pg.id, pg.policy_id, pg.created_at, pg.resolved_at,
                   (SELECT MIN(e.at) FROM {event} e
                     WHERE e.page_id = pg.id AND e.kind = %(acknowledged)s) AS ack_at,
                   date_trunc(%(period)s, pg.created_at AT TIME ZONE %(tz)s) AS bucket
              FROM {page} pg
             WHERE pg.created_at >= %(start)s AND pg.created_at < %(end)s
               AND NOT pg.in_maintenance
        ),
        owners AS (
            SELECT DISTINCT st.policy_id, 'schedule' AS kind, s.id AS owner_id, s.name
              FROM {step} st JOIN {schedule} s ON s.id = st.schedule_id
             WHERE st.kind = %(on_call)s
            UNION
            SELECT DISTINCT st.policy_id, 'team', t.id, t.name
              FROM {step} st JOIN {team} t ON t.id = st.team_id
             WHERE st.kind = %(team_kind)s
        ),
        tagged AS (
            SELECT p.*, 'all' AS kind, 0 AS owner_id, '' AS name FROM p
            UNION ALL
            SELECT p.*, o.kind, o.owner_id, o.name FROM p JOIN owners o USING (policy_id)
        )
        SELECT kind, owner_id, name, bucket AT TIME ZONE %(tz)s,
               COUNT(*),
               COUNT(ack_at),
               COALESCE(SUM(EXTRACT(EPOCH FROM ack_at - created_at)), 0),
               COUNT(resolved_at),
               COALESCE(SUM(EXTRACT(EPOCH FROM resolved_at - created_at)), 0)
          FROM tagged
         GROUP BY kind, owner_id, name, bucket
    """  # noqa: S608 (table names from the models)


def _series(
    kind: str, owner: int | None, name: str, periods: list[datetime], rows: dict[datetime, Bucket]
) -> Series:
    return Series(
        kind=kind,
        id=owner,
        name=name,
        buckets=[rows.get(start, Bucket(start=start)) for start in periods],
    )


def page_figures(
    *, start: datetime, end: datetime, period: str = "week", time_zone: str = "UTC"
) -> Figures:
    """MTTA and MTTR over the pages created in [start, end), per period, overall, per
    schedule and per team, and the pages per person per week. Two queries."""
    assert period in PERIODS, period
    zone = ZoneInfo(time_zone)
    periods = period_starts(start, end, period, zone)
    by_owner: dict[tuple[str, int], dict[datetime, Bucket]] = defaultdict(dict)
    names: dict[tuple[str, int], str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _mean_times_sql(),
            {
                "acknowledged": PageEventKind.ACKNOWLEDGED,
                "period": period,
                "tz": time_zone,
                "start": start,
                "end": end,
                "on_call": StepKind.NOTIFY_ON_CALL,
                "team_kind": StepKind.NOTIFY_TEAM,
            },
        )
        for kind, owner, name, bucket, pages, acked, ack_s, resolved, resolve_s in cursor:
            local = bucket.astimezone(zone)
            by_owner[(kind, owner)][local] = Bucket(
                start=local,
                pages=pages,
                acknowledged=acked,
                ack_seconds=float(ack_s),
                resolved=resolved,
                resolve_seconds=float(resolve_s),
            )
            names[(kind, owner)] = name
    overall = _series("all", None, "All pages", periods, by_owner.get(("all", 0), {}))
    owned = sorted((key for key in by_owner if key[0] != "all"), key=lambda k: names[k].lower())
    schedules = [_series(k, o, names[(k, o)], periods, by_owner[(k, o)]) for k, o in owned if k == "schedule"]  # fmt: skip
    teams = [_series(k, o, names[(k, o)], periods, by_owner[(k, o)]) for k, o in owned if k == "team"]  # fmt: skip
    weeks = period_starts(start, end, "week", zone)
    return Figures(
        start=start,
        end=end,
        period=period,
        time_zone=time_zone,
        periods=periods,
        overall=overall,
        schedules=schedules,
        teams=teams,
        weeks=weeks,
        people=pages_per_person(start=start, end=end, zone=zone, weeks=weeks),
    )


def pages_per_person(
    *, start: datetime, end: datetime, zone: ZoneInfo, weeks: Iterable[datetime] | None = None
) -> list[PersonWeeks]:
    """Per person notified for pages in [start, end): distinct pages and notifications per
    week (weeks from Monday, in `zone`), most paged first. One query."""
    from incidents.notify.models import Notification

    weeks = list(weeks) if weeks is not None else period_starts(start, end, "week", zone)
    position = {week: i for i, week in enumerate(weeks)}
    rows = (
        Notification.objects.filter(
            source=SOURCE, recipient__isnull=False, created_at__gte=start, created_at__lt=end
        )
        .annotate(week=Trunc("created_at", "week", tzinfo=zone))
        .values(
            "recipient_id",
            "recipient__first_name",
            "recipient__last_name",
            "recipient__email",
            "week",
        )
        .annotate(pages=Count("source_id", distinct=True), notifications=Count("id"))
        .order_by()
    )
    people: dict[int, PersonWeeks] = {}
    for row in rows:
        uid = row["recipient_id"]
        if uid not in people:
            full = f"{row['recipient__first_name']} {row['recipient__last_name']}".strip()
            people[uid] = PersonWeeks(
                user_id=uid,
                name=full or row["recipient__email"],
                pages=[0] * len(weeks),
                notifications=[0] * len(weeks),
            )
        at = position.get(row["week"].astimezone(zone))
        if at is not None:
            people[uid].pages[at] += row["pages"]
            people[uid].notifications[at] += row["notifications"]
    return sorted(people.values(), key=lambda p: (-p.total_pages, p.name.lower(), p.user_id))
