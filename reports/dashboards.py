"""The dashboards as data: figure cards, tables and chart series, built from reports.metrics.

The desk, the portal, the CSV exports and the API all render these same objects, so a CSV
holds exactly the text of the table on the screen (a cell's `text`), and a figure's drill
link is built by the caller (`Drill`), which knows where its tickets can be shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone

from communities.models import Community
from reports import metrics
from reports.metrics import Filters, format_value
from reports.models import Target
from reports.targets import targets_by_metric
from tickets.models import Channel, Severity, Tier

# A drill link: (metric key, extra query parameters) -> URL, or None when not shown.
Drill = Callable[[str, dict[str, str]], str | None]


def no_drill(key: str, extra: dict[str, str]) -> str | None:
    return None


@dataclass(frozen=True)
class Cell:
    text: str
    url: str | None = None
    state: str = ""  # met | at_risk | missed | no_data: a CSS class

    def __str__(self) -> str:
        return self.text


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""

    def as_lists(self) -> list[list[str]]:
        return [self.columns, *([c.text for c in row] for row in self.rows)]


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str
    previous: str
    change: str
    state: str
    target: str
    url: str | None
    now: bool = False  # a state now: no previous period


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[int, ...]


@dataclass
class Chart:
    """A small grouped bar chart, drawn as SVG by the template (no script, CSP-safe)."""

    title: str
    series: tuple[str, ...]
    bars: list[Bar]
    width: int = 720
    height: int = 160

    @property
    def peak(self) -> int:
        return max((v for b in self.bars for v in b.values), default=0) or 1

    def shapes(self) -> list[dict[str, Any]]:
        """Rectangles with their positions: one group per bar, one rect per series."""
        n = max(len(self.bars), 1)
        slot = self.width / n
        inner = max(slot * 0.8 / max(len(self.series), 1), 1)
        shapes = []
        for i, bar in enumerate(self.bars):
            for j, value in enumerate(bar.values):
                h = round((self.height - 20) * value / self.peak, 1)
                shapes.append(
                    {
                        "x": round(i * slot + slot * 0.1 + j * inner, 1),
                        "y": round(self.height - 20 - h, 1),
                        "w": round(inner, 1),
                        "h": h,
                        "series": j,
                        "title": f"{bar.label}: {self.series[j]} {value}",
                    }
                )
        return shapes

    def labels(self) -> list[dict[str, Any]]:
        n = max(len(self.bars), 1)
        step = max(1, n // 8)
        slot = self.width / n
        return [
            {"x": round(i * slot + slot / 2, 1), "text": b.label}
            for i, b in enumerate(self.bars)
            if i % step == 0
        ]


@dataclass
class Dashboard:
    key: str
    title: str
    cards: list[Card] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)


def _change(compared: metrics.Compared) -> str:
    change = compared.change
    if change is None:
        return "—"
    sign = "+" if change > 0 else ""
    return f"{sign}{format_value(change, compared.current.unit).replace('tickets', '').strip()}"


def _target_text(target: Target | None, unit: str) -> str:
    if target is None:
        return ""
    op = "≥" if target.direction == "higher" else "≤"
    return f"{op} {format_value(float(target.target), unit)}"


def cards(keys: tuple[str, ...], f: Filters, drill: Drill) -> list[Card]:
    targets = targets_by_metric()
    result = []
    for key in keys:
        target = targets.get(key)
        if key in metrics.STATES_NOW:  # no previous period to compare with
            figure = metrics.compute(key, f)
            compared = metrics.Compared(figure, figure)
            previous = change = "—"
        else:
            compared = metrics.compare(key, f)
            previous, change = compared.previous.shown, _change(compared)
        result.append(
            Card(
                key=key,
                label=compared.current.label,
                value=compared.current.shown,
                previous=previous,
                change=change,
                state=target.assess(compared.current.value) if target else "",
                target=_target_text(target, compared.current.unit),
                url=drill(key, {}) if metrics.METRICS[key].tickets else None,
                now=key in metrics.STATES_NOW,
            )
        )
    return result


def figures_table(items: list[Card]) -> Table:
    """The cards as a table, for the CSV export (the same text as the cards)."""
    table = Table(
        "figures", "Figures", ["Metric", "Value", "Previous period", "Change", "Target", "State"]
    )
    for c in items:
        table.rows.append(
            [
                Cell(c.label),
                Cell(c.value, c.url),
                Cell(c.previous),
                Cell(c.change),
                Cell(c.target),
                Cell(c.state.replace("_", " "), state=c.state),
            ]
        )
    return table


SUPPORT_CARDS = (
    "volume",
    "resolved",
    "first_response",
    "first_response_business",
    "resolution",
    "resolution_business",
    "resolution_rate",
    "sla_first_response",
    "sla_next_update",
    "sla_resolution",
    "first_contact_resolution",
    "reopen_rate",
    "escalation_rate",
    "satisfaction",
    "utilisation",
    "deflection_rate",
    "self_service_share",
    "kb_usage",
)


def _count_cell(n: int, url: str | None) -> Cell:
    return Cell(str(n), url if n else None)


def support(f: Filters, drill: Drill) -> Dashboard:
    with metrics.shared_reads():
        return _support(f, drill)


def _support(f: Filters, drill: Drill) -> Dashboard:
    board = Dashboard("support", "Support")
    board.cards = cards(SUPPORT_CARDS, f, drill)
    board.tables.append(figures_table(board.cards))
    by_tier = metrics.volume_by(f, "tier")
    table = Table("by-tier", "Tickets opened by tier", ["Tier", "Opened"])
    for tier in Tier:
        n = by_tier.get(tier.value, 0)
        table.rows.append(
            [Cell(str(tier.label)), _count_cell(n, drill("volume", {"tier": tier.value}))]
        )
    board.tables.append(table)
    by_channel = metrics.volume_by(f, "channel")
    table = Table("by-channel", "Tickets opened by channel", ["Channel", "Opened"])
    for channel in Channel:
        n = by_channel.get(channel.value, 0)
        table.rows.append(
            [Cell(str(channel.label)), _count_cell(n, drill("volume", {"channel": channel.value}))]
        )
    board.tables.append(table)
    table = Table(
        "agents",
        "Agent load and utilisation",
        ["Agent", "Open tickets", "Time logged (h)", "Working time (h)", "Utilisation"],
        note="Utilisation: time logged in the period against the agent's working hours "
        "(their work days and hours; none set: Monday to Friday, 8 hours).",
    )
    for row in metrics.agent_rows(f):
        table.rows.append(
            [
                Cell(row.name),
                _count_cell(row.open_tickets, drill("backlog", {"agent": str(row.agent_id)})),
                Cell(f"{row.logged_minutes / 60:.1f}"),
                Cell(f"{row.working_minutes / 60:.1f}"),
                Cell(format_value(row.utilisation, "%")),
            ]
        )
    board.tables.append(table)
    series = metrics.daily_series(f)
    table = Table("daily", "Per day", ["Day", "Opened", "Resolved"])
    for day, opened, resolved in series:
        table.rows.append([Cell(day.isoformat()), Cell(str(opened)), Cell(str(resolved))])
    board.tables.append(table)
    board.charts.append(
        Chart(
            "Tickets opened and resolved per day",
            ("opened", "resolved"),
            [Bar(day.strftime("%d %b"), (o, r)) for day, o, r in series],
        )
    )
    return board


def operations(
    f: Filters, drill: Drill, *, now: datetime | None = None, on_call: Any = None
) -> Dashboard:
    now = now or timezone.now()
    board = Dashboard("operations", "Operations")
    board.cards = cards(
        ("backlog", "sla_at_risk", "pages_open", "page_acknowledge", "page_resolve"), f, drill
    )
    board.tables.append(figures_table(board.cards))
    grid = metrics.backlog_by_tier_severity(f)
    table = Table(
        "backlog",
        "Open tickets by tier and severity",
        ["Tier", *[str(s.label) for s in Severity], "Total"],
    )
    for tier in Tier:
        cells = [Cell(str(tier.label))]
        total = 0
        for severity in Severity:
            n = grid.get((tier.value, severity.value), 0)
            total += n
            cells.append(
                _count_cell(n, drill("backlog", {"tier": tier.value, "severity": severity.value}))
            )
        cells.append(_count_cell(total, drill("backlog", {"tier": tier.value})))
        table.rows.append(cells)
    board.tables.append(table)
    ages = metrics.backlog_by_age(f, now)
    table = Table("ages", "Queue ages (open tickets by age)", ["Age", "Open tickets"])
    for label, _, _ in metrics.AGE_BUCKETS:
        table.rows.append([Cell(label), _count_cell(ages[label], drill("backlog", {"age": label}))])
    board.tables.append(table)
    table = Table(
        "oncall-load", "On-call load in the period", ["Person", "Pages", "At night (22:00-07:00)"]
    )
    for row in metrics.oncall_rows(f):
        table.rows.append([Cell(row.name), Cell(str(row.pages)), Cell(str(row.at_night))])
    board.tables.append(table)
    if on_call is not None:
        table = Table("oncall-now", "On call now", ["Schedule", "On call", "Until", "Next"])
        for entry in on_call:
            shift, following = entry.shift, entry.next_shift
            table.rows.append(
                [
                    Cell(entry.schedule.name),
                    Cell(shift.user.display_name if shift else "nobody"),
                    Cell(timezone.localtime(shift.end).strftime("%Y-%m-%d %H:%M") if shift else ""),
                    Cell(following.user.display_name if following else ""),
                ]
            )
        board.tables.append(table)
    return board


def _month_starts(now: datetime, months: int) -> list[datetime]:
    local = timezone.localtime(now)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _ in range(months - 1):
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    return list(reversed(starts))


EXECUTIVE_COLUMNS = (
    ("volume", "Opened"),
    ("resolved", "Resolved"),
    ("resolution", "Resolution, median (h)"),
    ("sla_resolution", "SLA met: resolution"),
    ("satisfaction", "Satisfaction"),
    ("escalation_rate", "Escalation rate"),
    ("pages", "Pages"),
    ("incidents", "Incidents"),
    ("incident_duration", "Incident duration, median (min)"),
)


def executive(
    f: Filters, drill: Drill, *, now: datetime | None = None, months: int = 12
) -> Dashboard:
    """Month by month, the last `months` months (the period filter does not apply)."""
    with metrics.shared_reads():
        return _executive(f, drill, now=now or timezone.now(), months=months)


def _executive(f: Filters, drill: Drill, *, now: datetime, months: int) -> Dashboard:
    board = Dashboard("executive", "Executive (monthly)")
    starts = _month_starts(now, months)
    table = Table(
        "monthly", "Month by month", ["Month", *[label for _, label in EXECUTIVE_COLUMNS]]
    )
    bars = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else now
        month = Filters(**{**f.__dict__, "start": start, "end": end})
        cells = [Cell(start.strftime("%Y-%m"))]
        for key, _ in EXECUTIVE_COLUMNS:
            figure = metrics.compute(key, month)
            url = None
            if metrics.METRICS[key].tickets and figure.count:
                url = drill(
                    key,
                    {
                        "start": start.date().isoformat(),
                        "end": (end - timedelta(seconds=1)).date().isoformat(),
                    },
                )
            cells.append(Cell(format_value(figure.value, figure.unit).replace(" h", ""), url))
        table.rows.append(cells)
        bars.append(Bar(start.strftime("%b %y"), (int(cells[1].text), int(cells[2].text))))
    board.tables.append(table)
    board.charts.append(
        Chart("Tickets opened and resolved per month", ("opened", "resolved"), bars)
    )
    return board


COMMUNITY_COLUMNS = [
    "Community",
    "Plan",
    "Opened",
    "Resolved",
    "Open now",
    "SLA met: first response",
    "SLA met: resolution",
    "Satisfaction",
    "Budget (h)",
    "Used (h)",
    "Left (h)",
    "Used",
    "Forecast at period end",
]


def community_table(f: Filters, drill: Drill) -> Table:
    """One row per community in the filters: tickets, SLA compliance, satisfaction, budget."""
    table = Table("communities", "Communities", list(COMMUNITY_COLUMNS))
    communities = (
        Community.objects.filter(pk__in=f.community_ids)
        .select_related("service_plan")
        .order_by("name")
    )

    opened = metrics.counts_by_community("opened", f)
    resolved = metrics.counts_by_community("resolved", f)
    open_now = dict(
        metrics.backlog_tickets(f)
        .order_by()
        .values("community")
        .annotate(n=Count("pk"))
        .values_list("community", "n")
    )
    counts = {
        pk: {
            "opened": opened.get(pk, {}).get("opened", 0),
            "resolved": resolved.get(pk, {}).get("resolved", 0),
            "open_now": open_now.get(pk, 0),
        }
        for pk in f.community_ids
    }
    budgets = {b.community_id: b for b in metrics.budget_rows(f.community_ids)}
    first_response = metrics.sla_by_community(f, "first_response")
    resolution = metrics.sla_by_community(f, "resolution")
    csat = metrics.satisfaction_by_community(f)
    for community in communities:
        c: dict[str, Any] = dict(counts.get(community.pk) or {})
        params = {"community": community.slug}
        b = budgets.get(community.pk)
        fr, res = first_response.get(community.pk), resolution.get(community.pk)
        table.rows.append(
            [
                Cell(community.name),
                Cell(community.service_plan.name),
                _count_cell(c.get("opened", 0), drill("volume", params)),
                _count_cell(c.get("resolved", 0), drill("resolved", params)),
                _count_cell(c.get("open_now", 0), drill("backlog", params)),
                Cell(
                    format_value(fr, "%"),
                    drill("sla_first_response", params) if fr is not None else None,
                ),
                Cell(
                    format_value(res, "%"),
                    drill("sla_resolution", params) if res is not None else None,
                ),
                Cell(format_value(csat.get(community.pk), "%")),
                Cell(f"{b.budget_minutes / 60:.1f}" if b else "—"),
                Cell(f"{b.used_minutes / 60:.1f}" if b else "—"),
                Cell(f"{b.left_minutes / 60:.1f}" if b else "—"),
                Cell(format_value(b.used_percent, "%") if b else "—"),
                Cell(format_value(b.forecast_percent, "%") if b else "—"),
            ]
        )
    return table


COMMUNITY_CARDS = (
    "volume",
    "resolved",
    "backlog",
    "sla_first_response",
    "sla_resolution",
    "satisfaction",
    "budget_used",
)


def community(f: Filters, drill: Drill) -> Dashboard:
    with metrics.shared_reads():
        return _community(f, drill)


def _community(f: Filters, drill: Drill) -> Dashboard:
    board = Dashboard("community", "Communities")
    board.cards = cards(COMMUNITY_CARDS, f, drill)
    board.tables.append(figures_table(board.cards))
    board.tables.append(community_table(f, drill))
    uptime = uptime_table(f)
    if uptime is not None:
        board.tables.append(uptime)
    return board


def uptime_table(f: Filters) -> Table | None:
    rows = metrics.uptime_rows(f.community_ids)
    if not rows:
        return None
    table = Table(
        "uptime",
        "Uptime this month",
        ["Community", "Month", "Uptime", "Guarantee", "Downtime (min)", "Guarantee met"],
        note="From the incidents that affected the community (planned maintenance within "
        "the plan's allowance excluded), as the service plan's credit is computed.",
    )
    for r in rows:
        table.rows.append(
            [
                Cell(r.community),
                Cell(r.month),
                Cell(f"{r.uptime_percent:.3f} %"),
                Cell(f"{r.guarantee:.3f} %"),
                Cell(str(r.downtime_minutes)),
                Cell("yes" if r.met else "no", state="met" if r.met else "missed"),
            ]
        )
    return table


def csv_text(table: Table) -> str:
    """The table as CSV: exactly the text of its cells on the screen."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for row in table.as_lists():
        writer.writerow(row)
    return out.getvalue()


DASHBOARDS: dict[str, str] = {
    "support": "Support",
    "operations": "Operations",
    "executive": "Executive",
    "community": "Community",
}
