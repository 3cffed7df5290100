"""Figures: MTTA and MTTR per period, schedule and team, and pages per person per week,
against pages built by hand with known times; and GET /api/v1/pages/figures/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from incidents.notify.models import Notification
from incidents.oncall.models import Schedule
from incidents.paging.figures import page_figures, period_starts
from incidents.paging.models import EscalationPolicy, EscalationStep, Page, PageEvent
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.routing.factories import TeamFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2024, 6, 3, tzinfo=UTC)
_keys = count()


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return MONDAY + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def make_page(
    policy: EscalationPolicy | None,
    created: datetime,
    *,
    acks: tuple[datetime, ...] = (),
    resolved: datetime | None = None,
    in_maintenance: bool = False,
) -> Page:
    """A page created at `created`, acknowledged (on its timeline) at each of `acks`, and
    resolved at `resolved`."""
    state = "resolved" if resolved else ("acknowledged" if acks else "triggered")
    page = Page.objects.create(
        cause="critical_ticket",
        dedup_key=f"figures-{next(_keys)}",
        title="Hub down",
        severity="critical",
        policy=policy,
        state=state,
        created_at=created,
        acknowledged_at=acks[-1] if acks and not resolved else None,
        resolved_at=resolved,
        in_maintenance=in_maintenance,
    )
    PageEvent.objects.create(page=page, kind="triggered", at=created)
    for moment in acks:
        PageEvent.objects.create(page=page, kind="acknowledged", at=moment)
    if resolved:
        PageEvent.objects.create(page=page, kind="resolved", at=resolved)
    return page


@pytest.fixture
def setup():
    primary = Schedule.objects.create(name="Primary")
    backup = Schedule.objects.create(name="Backup")
    team = TeamFactory.create(name="Engineering")
    oncall = EscalationPolicy.objects.create(name="On call")
    for position, fields in enumerate(
        [
            {"kind": "notify_on_call", "schedule": primary},
            {"kind": "wait", "wait_minutes": 5},
            {"kind": "notify_on_call", "schedule": backup},
            # Primary a second time: the page still counts once for it.
            {"kind": "notify_on_call", "schedule": primary},
            {"kind": "notify_team", "team": team},
        ],
        start=1,
    ):
        EscalationStep.objects.create(policy=oncall, position=position, **fields)
    named = EscalationPolicy.objects.create(name="Named people")
    step = EscalationStep.objects.create(policy=named, position=1, kind="notify_users")
    step.users.add(AgentFactory.create())
    pages = {
        # acknowledged after 2 min, resolved after 30 min
        "p1": make_page(oncall, at(hours=10), acks=(at(hours=10, minutes=2),),
                        resolved=at(hours=10, minutes=30)),
        # first acknowledged after 6 min (then undone and acknowledged again), resolved
        # after an hour
        "p2": make_page(oncall, at(days=1, hours=12),
                        acks=(at(days=1, hours=12, minutes=6), at(days=1, hours=12, minutes=20)),
                        resolved=at(days=1, hours=13)),
        # never acknowledged, resolved after 10 min
        "p3": make_page(oncall, at(days=2), resolved=at(days=2, minutes=10)),
        # the week after: acknowledged after a minute, still open
        "p4": make_page(named, at(days=8), acks=(at(days=8, minutes=1),)),
        # recorded during maintenance, and one before the range: neither counts
        "maintenance": make_page(oncall, at(days=1), in_maintenance=True,
                                 resolved=at(days=1, hours=5)),
        "before": make_page(oncall, at(days=-1), acks=(at(days=-1, seconds=1),)),
    }  # fmt: skip
    return {"primary": primary, "backup": backup, "team": team, "pages": pages}


def _row(bucket):
    return (bucket.pages, bucket.acknowledged, bucket.mtta_seconds, bucket.resolved,
            bucket.mttr_seconds)  # fmt: skip


def test_mean_times_per_week_overall_and_in_total(setup, django_assert_num_queries):
    with django_assert_num_queries(2):
        figures = page_figures(start=MONDAY, end=at(days=14), period="week")

    assert figures.periods == [MONDAY, at(days=7)]
    assert [_row(b) for b in figures.overall.buckets] == [
        (3, 2, 240.0, 3, 2000.0),  # (120 + 360) / 2 and (1800 + 3600 + 600) / 3
        (1, 1, 60.0, 0, None),
    ]
    assert _row(figures.overall.total) == (4, 3, 180.0, 3, 2000.0)


def test_a_page_counts_once_for_each_schedule_and_team_of_its_policy(setup):
    figures = page_figures(start=MONDAY, end=at(days=14), period="week")

    assert [(s.kind, s.name) for s in figures.schedules] == [
        ("schedule", "Backup"),
        ("schedule", "Primary"),
    ]
    assert [(s.kind, s.name, s.id) for s in figures.teams] == [
        ("team", "Engineering", setup["team"].pk)
    ]
    for series in [*figures.schedules, *figures.teams]:
        assert [_row(b) for b in series.buckets] == [
            (3, 2, 240.0, 3, 2000.0),
            (0, 0, None, 0, None),
        ]


def test_days_are_read_in_the_time_zone_asked(setup):
    # p1 (10:00 UTC Monday) is on Monday in Berlin, p3 (00:00 UTC Wednesday) at 02:00
    # Wednesday; p2 (12:00 UTC Tuesday) on Tuesday.
    berlin = ZoneInfo("Europe/Berlin")
    figures = page_figures(
        start=at(hours=-2), end=at(days=3, hours=-2), period="day", time_zone="Europe/Berlin"
    )

    assert figures.periods == [datetime(2024, 6, d, tzinfo=berlin) for d in (3, 4, 5)]
    assert [_row(b) for b in figures.overall.buckets] == [
        (1, 1, 120.0, 1, 1800.0),
        (1, 1, 360.0, 1, 3600.0),
        (1, 0, None, 1, 600.0),
    ]


def test_a_page_created_before_midnight_utc_is_on_the_next_day_east_of_greenwich(setup):
    late = make_page(None, at(days=3, hours=-1), acks=(at(days=3, hours=-1, seconds=30),))
    assert late.created_at.astimezone(ZoneInfo("Asia/Singapore")).day == 6

    utc = page_figures(start=at(days=2), end=at(days=4), period="day")
    singapore = page_figures(
        start=at(days=2), end=at(days=4), period="day", time_zone="Asia/Singapore"
    )

    assert [b.pages for b in utc.overall.buckets] == [2, 0]  # p3 and the late one
    # Singapore: p3 at 08:00 on 5 June, the late page at 07:00 on 6 June
    assert [b.pages for b in singapore.overall.buckets] == [1, 1, 0]


def test_months_start_on_the_first(setup):
    figures = page_figures(start=MONDAY - timedelta(days=10), end=at(days=40), period="month")

    assert figures.periods == [datetime(2024, m, 1, tzinfo=UTC) for m in (5, 6, 7)]
    assert [b.pages for b in figures.overall.buckets] == [0, 5, 0]


def test_period_starts_keep_local_midnight_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    starts = period_starts(
        datetime(2024, 3, 30, 12, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC), "day", berlin
    )

    assert [s.isoformat() for s in starts] == [
        "2024-03-30T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    ]


def test_no_pages_gives_empty_figures(db):
    figures = page_figures(start=MONDAY, end=at(days=7), period="week")

    assert _row(figures.overall.total) == (0, 0, None, 0, None)
    assert (figures.schedules, figures.teams, figures.people) == ([], [], [])


def _notified(person, page, moment, *, source="page"):
    return Notification.objects.create(
        recipient=person, subject="Page", key=f"figures-n-{next(_keys)}", source=source,
        source_id=page.pk, created_at=moment,
    )  # fmt: skip


def test_pages_per_person_per_week_counts_distinct_pages_and_notifications(setup):
    alice = AgentFactory.create(first_name="Alice", last_name="Archer")
    bob = AgentFactory.create(first_name="Bob", last_name="Baker")
    p = setup["pages"]
    _notified(alice, p["p1"], at(hours=10))
    _notified(alice, p["p1"], at(hours=10, minutes=10))  # the repeat: the same page
    _notified(alice, p["p2"], at(days=1, hours=12))
    _notified(bob, p["p1"], at(hours=10, minutes=5))
    _notified(bob, p["p4"], at(days=8))
    _notified(bob, p["p4"], at(days=8), source="ticket")  # not a page
    _notified(bob, p["before"], at(days=-1))  # before the range

    people = page_figures(start=MONDAY, end=at(days=14), period="week").people

    assert [(x.name, x.pages, x.notifications) for x in people] == [
        ("Alice Archer", [2, 0], [3, 0]),
        ("Bob Baker", [1, 1], [1, 1]),
    ]
    assert (people[0].total_pages, people[0].total_notifications) == (2, 3)


# ---------------------------------------------------------------- the API

URL = "/api/v1/pages/figures/"


def test_the_api_gives_the_figures_to_agents(setup, api_as):
    response = api_as(AgentFactory.create()).get(
        URL, {"from": "2024-06-03", "to": "2024-06-17", "period": "week"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["period"], body["time_zone"]) == (
        "2024-06-03T00:00:00Z", "2024-06-17T00:00:00Z", "week", "UTC",
    )  # fmt: skip
    assert body["overall"]["total"] == {
        "start": "2024-06-03T00:00:00Z", "pages": 4, "acknowledged": 3, "resolved": 3,
        "mtta_seconds": 180.0, "mttr_seconds": 2000.0,
    }  # fmt: skip
    assert [b["mtta_seconds"] for b in body["overall"]["periods"]] == [240.0, 60.0]
    assert [s["name"] for s in body["schedules"]] == ["Backup", "Primary"]
    assert [t["name"] for t in body["teams"]] == ["Engineering"]
    assert body["weeks"] == ["2024-06-03T00:00:00Z", "2024-06-10T00:00:00Z"]


def _errors(response) -> dict[str, str]:
    return {e["attr"]: e["code"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"from": "2024-06-17", "to": "2024-06-03"}, {"to": "invalid"}),
        ({"from": "2024-06-03", "to": "2024-06-03"}, {"to": "invalid"}),
        ({"from": "yesterday"}, {"from": "invalid"}),
        ({"from": "2024-02-30"}, {"from": "invalid"}),
        ({"from": "2020-01-01", "to": "2024-01-01", "period": "day"}, {"from": "too_long"}),
        ({"period": "fortnight"}, {"period": "invalid_choice"}),
        ({"tz": "Mars/Olympus"}, {"tz": "invalid"}),
    ],
)
def test_the_api_refuses_a_bad_range_with_field_errors(db, api_as, params, errors):
    response = api_as(AgentFactory.create()).get(URL, params)

    assert response.status_code == 400
    assert _errors(response) == errors


def test_a_community_member_is_told_there_is_nothing_there(community, api_as):
    member = MembershipFactory.create(community=community, role="representative").user

    assert api_as(member).get(URL).status_code == 404
    assert api_as(None).get(URL).status_code == 401


def test_the_figures_are_in_the_openapi_schema(db, client):
    schema = client.get("/api/schema/?format=json").json()

    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "period", "tz"}
