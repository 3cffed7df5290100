"""Each metric as a table of small scenarios with exact expected values, under frozen time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from communities.models import TimeEntry
from incidents.paging.models import Page
from reports import metrics
from reports.metrics import Filters
from routing.models import TierEscalation
from slas.models import SLATarget
from tests.communities.factories import CommunityFactory, SupportBudgetFactory
from tests.core.factories import AgentFactory
from tests.routing.factories import AgentProfileFactory
from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.models import Message, SatisfactionRating, TicketEvent

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
START = datetime(2026, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def period(*communities) -> Filters:
    return Filters(start=START, end=NOW, community_ids=tuple(c.pk for c in communities))


def ticket(community, *, created=START + H, **fields):
    return TicketFactory.create(community=community, created_at=created, **fields)


# ---------------------------------------------------------------- first response, resolution


@pytest.mark.parametrize(
    ("responses", "expected"),
    [
        ([], None),  # nobody answered: no figure
        ([30], 30.0),
        ([10, 20, 90], 20.0),  # the median
        ([10, 20, 30, 40], 25.0),  # interpolated between the middle two
        ([None, 60], 60.0),  # a ticket not answered yet does not count
    ],
)
def test_first_response_is_the_median_wall_clock_minutes(responses, expected):
    community = CommunityFactory.create()
    for minutes in responses:
        t = ticket(community)
        if minutes is not None:
            t.first_responded_at = t.created_at + minutes * M
            t.save(update_fields=["first_responded_at"])
    assert metrics.first_response(period(community)).value == expected


@pytest.mark.parametrize(
    ("durations", "expected"),
    [([], None), ([2], 2.0), ([1, 3, 11], 3.0), ([1, 2], 1.5)],
)
def test_resolution_is_the_median_hours_from_opened_to_resolved(durations, expected):
    community = CommunityFactory.create()
    for hours in durations:
        ticket(community, status="resolved", resolved_at=START + H + hours * H)
    # Resolved before the period: not counted.
    ticket(community, created=START - 10 * H, status="resolved", resolved_at=START - H)
    assert metrics.resolution(period(community)).value == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], None), (["resolved", "closed", "new", "open"], 50.0), (["closed"], 100.0)],
)
def test_resolution_rate_is_the_share_of_opened_tickets_resolved_or_closed(statuses, expected):
    community = CommunityFactory.create()
    for status in statuses:
        ticket(community, status=status)
    assert metrics.resolution_rate(period(community)).value == expected


def _clock(t, metric, state, *, due_in, met_in=None, breached_in=None, used=None):
    start = t.created_at
    return SLATarget.objects.create(
        ticket=t,
        community=t.community,
        metric=metric,
        state=state,
        target_minutes=60,
        started_at=start,
        due_at=start + due_in,
        met_at=start + met_in if met_in is not None else None,
        breached_at=start + breached_in if breached_in is not None else None,
        cancelled_at=start if state == "cancelled" else None,
        used_seconds=used,
    )


@pytest.mark.parametrize(
    ("clocks", "expected", "decided"),
    [
        ([], None, 0),
        ([("met", 30, None)], 100.0, 1),
        ([("met", 30, None), ("breached", None, 60)], 50.0, 2),
        # Met after breaching: decided, not in time.
        ([("met", 90, 60), ("met", 10, None)], 50.0, 2),
        # Running and cancelled clocks are not decided.
        ([("running", None, None), ("cancelled", None, None), ("met", 5, None)], 100.0, 1),
    ],
)
def test_sla_compliance_is_met_in_time_over_decided(clocks, expected, decided):
    community = CommunityFactory.create()
    for state, met, breached in clocks:
        t = ticket(community)
        _clock(
            t,
            "resolution",
            state,
            due_in=H,
            met_in=met * M if met is not None else None,
            breached_in=breached * M if breached is not None else None,
        )
    figure = metrics.sla_resolution(period(community))
    assert (figure.value, figure.count) == (expected, decided)


def test_business_time_is_the_median_of_the_clocks_used_time():
    community = CommunityFactory.create()
    for used in (600, 1200, 6000):
        t = ticket(community)
        _clock(t, "first_response", "met", due_in=H, met_in=30 * M, used=used)
    assert metrics.first_response_business(period(community)).value == 20.0


# ---------------------------------------------------------------- first contact, reopen


def _resolve(t, *, reopened=False, staff_replies=1):
    agent = AgentFactory.create()
    for _ in range(staff_replies):
        MessageFactory.create(ticket=t, author=agent, kind=Message.Kind.PUBLIC)
    MessageFactory.create(ticket=t, author=agent, kind=Message.Kind.INTERNAL)  # never counted
    MessageFactory.create(ticket=t)  # the requester's message
    if reopened:
        TicketEvent.objects.create(
            ticket=t, kind="status_changed", data={"transition": "reopen", "status": "open"},
            created_at=START + 3 * H,
        )  # fmt: skip
    TicketEvent.objects.create(
        ticket=t, kind="status_changed", data={"transition": "resolve", "status": "resolved"},
        created_at=START + 2 * H,
    )  # fmt: skip
    t.status, t.resolved_at = "resolved", START + 4 * H
    t.save(update_fields=["status", "resolved_at"])


@pytest.mark.parametrize(
    ("tickets", "expected"),
    [
        ([], None),
        ([(1, False)], 100.0),
        ([(2, False)], 0.0),  # two staff replies
        ([(1, True)], 0.0),  # reopened once
        ([(1, False), (1, False), (0, False), (3, False)], 50.0),
    ],
)
def test_first_contact_resolution_needs_one_public_staff_reply_and_no_reopen(tickets, expected):
    community = CommunityFactory.create()
    for replies, reopened in tickets:
        _resolve(ticket(community), staff_replies=replies, reopened=reopened)
    assert metrics.first_contact_resolution(period(community)).value == expected


@pytest.mark.parametrize(
    ("reopened", "kept", "expected"), [(0, 0, None), (1, 3, 25.0), (2, 0, 100.0)]
)
def test_reopen_rate_is_reopened_among_resolved_in_the_period(reopened, kept, expected):
    community = CommunityFactory.create()
    for _ in range(reopened):
        _resolve(ticket(community), reopened=True)
    for _ in range(kept):
        _resolve(ticket(community))
    assert metrics.reopen_rate(period(community)).value == expected


@pytest.mark.parametrize(
    ("escalated", "plain", "expected"), [(0, 0, None), (1, 3, 25.0), (0, 2, 0.0)]
)
def test_escalation_rate_is_opened_tickets_moved_up_a_tier(escalated, plain, expected):
    community = CommunityFactory.create()
    for _ in range(escalated):
        t = ticket(community)
        TierEscalation.objects.create(
            ticket=t, direction="up", from_tier="community", to_tier="expert"
        )
        TierEscalation.objects.create(
            ticket=t, direction="up", from_tier="expert", to_tier="engineering"
        )
    for _ in range(plain):
        t = ticket(community)
        TierEscalation.objects.create(
            ticket=t, direction="down", from_tier="expert", to_tier="community"
        )
    assert metrics.escalation_rate(period(community)).value == expected


@pytest.mark.parametrize(
    ("good", "bad", "unanswered", "expected"), [(0, 0, 2, None), (9, 1, 3, 90.0), (1, 2, 0, 33.3)]
)
def test_satisfaction_is_good_answers_over_answers(good, bad, unanswered, expected):
    community = CommunityFactory.create()
    for score, n in (("good", good), ("bad", bad), ("", unanswered)):
        for _ in range(n):
            t = ticket(community)
            SatisfactionRating.objects.create(
                ticket=t, requester=t.requester, score=score,
                answered_at=START + 5 * H if score else None,
            )  # fmt: skip
    assert metrics.satisfaction(period(community)).value == expected


# ---------------------------------------------------------------- backlog, agents, budgets


def test_backlog_by_tier_severity_and_age_counts_unresolved_tickets_now():
    community = CommunityFactory.create()
    ticket(community, created=NOW - 2 * H, tier="expert", severity="high")
    ticket(community, created=NOW - 50 * H, tier="expert", severity="high", status="open")
    ticket(community, created=NOW - 40 * 24 * H, tier="community", severity="low", status="pending")
    ticket(community, created=NOW - H, tier="expert", severity="high", status="resolved")
    f = period(community)
    assert metrics.backlog(f).value == 3
    assert metrics.backlog_by_tier_severity(f) == {("expert", "high"): 2, ("community", "low"): 1}
    assert metrics.backlog_by_age(f, NOW) == {
        "under 1 day": 1, "1-3 days": 1, "3-7 days": 0, "7-30 days": 0, "over 30 days": 1,
    }  # fmt: skip


def test_utilisation_is_time_logged_over_working_time():
    community = CommunityFactory.create()
    agent = AgentFactory.create()
    AgentProfileFactory.create(user=agent, work_days=[1, 2, 3, 4, 5])  # 8 h a day
    t = ticket(community, assignee=agent)
    # 2026-03-23 (Mon) to 2026-03-30 (Mon): 5 working days = 40 h; 10 h logged.
    f = Filters(
        start=datetime(2026, 3, 23, tzinfo=UTC),
        end=datetime(2026, 3, 30, tzinfo=UTC),
        community_ids=(community.pk,),
    )
    TimeEntry.objects.create(
        ticket=t,
        community=community,
        agent=agent,
        minutes=600,
        worked_at=datetime(2026, 3, 24, 10, tzinfo=UTC),
    )
    TimeEntry.objects.create(
        ticket=t,
        community=community,
        agent=agent,
        minutes=60,
        worked_at=datetime(2026, 3, 20, tzinfo=UTC),
    )
    [row] = metrics.agent_rows(f)
    assert (row.open_tickets, row.logged_minutes, row.working_minutes, row.utilisation) == (
        1,
        600,
        2400,
        25.0,
    )


@pytest.mark.parametrize(
    ("kind", "hours", "logged", "used", "forecast"),
    [
        # 2026-03-31 12:00 UTC: 30.5 of 31 days of March gone.
        ("month", 10, 300, 50.0, 50.8),
        ("month", 10, 0, 0.0, 0.0),
        # Q1: 89.5 of 90 days gone.
        ("quarter", 20, 1200, 100.0, 100.6),
    ],
)
def test_budget_burn_is_used_against_the_period_with_a_forecast(
    kind, hours, logged, used, forecast
):
    community = CommunityFactory.create(time_zone="UTC")
    SupportBudgetFactory.create(community=community, hours=hours, period=kind)
    agent = AgentFactory.create()
    t = ticket(community)
    if logged:
        TimeEntry.objects.create(
            ticket=t, community=community, agent=agent, minutes=logged, worked_at=NOW - H
        )
    TimeEntry.objects.create(
        ticket=t,
        community=community,
        agent=agent,
        minutes=999,
        worked_at=datetime(2025, 12, 31, tzinfo=UTC),
    )
    [row] = metrics.budget_rows((community.pk,), NOW)
    assert (row.used_percent, row.forecast_percent) == (used, forecast)


# ---------------------------------------------------------------- on-call


def _page(n, *, created, ack=None, resolved=None, by=None, community=None):
    return Page.objects.create(
        cause="integration", dedup_key=f"k{n}", title="t", severity="high", community=community,
        created_at=created, state="resolved" if resolved else ("acknowledged" if ack else "triggered"),
        acknowledged_at=created + ack if ack else None, acknowledged_by=by if ack else None,
        resolved_at=created + resolved if resolved else None,
    )  # fmt: skip


def test_on_call_load_counts_pages_per_person_at_night_and_the_median_times():
    community = CommunityFactory.create()
    alice, bob = AgentFactory.create(first_name="Alice"), AgentFactory.create(first_name="Bob")
    _page(
        1,
        created=datetime(2026, 3, 10, 23, tzinfo=UTC),
        ack=2 * M,
        resolved=30 * M,
        by=alice,
        community=community,
    )
    _page(
        2,
        created=datetime(2026, 3, 11, 3, tzinfo=UTC),
        ack=4 * M,
        resolved=60 * M,
        by=alice,
        community=community,
    )
    _page(3, created=datetime(2026, 3, 11, 12, tzinfo=UTC), ack=10 * M, by=bob, community=community)
    _page(4, created=datetime(2026, 3, 12, 12, tzinfo=UTC), community=community)
    _page(5, created=datetime(2026, 3, 12, 12, tzinfo=UTC), community=CommunityFactory.create())
    f = period(community)
    assert metrics.pages_count(f).value == 4
    assert metrics.pages_at_night(f).value == 2
    assert metrics.page_acknowledge(f).value == 4.0
    assert metrics.page_resolve(f).value == 45.0
    assert [(r.name, r.pages, r.at_night) for r in metrics.oncall_rows(f)] == [
        (alice.display_name, 2, 2), (bob.display_name, 1, 0),
    ]  # fmt: skip


# ---------------------------------------------------------------- filters and comparison


def test_filters_narrow_and_the_previous_period_is_just_before():
    community, other = CommunityFactory.create(), CommunityFactory.create()
    ticket(community, severity="high", channel="email")
    ticket(community, severity="low", channel="portal")
    ticket(community, created=START - 5 * 24 * H)  # previous period
    ticket(other)
    f = period(community)
    assert metrics.volume(f).value == 2
    assert metrics.volume(Filters(**{**f.__dict__, "severity": "high"})).value == 1
    assert metrics.volume(Filters(**{**f.__dict__, "channel": "portal"})).value == 1
    compared = metrics.compare("volume", f)
    assert (compared.current.value, compared.previous.value, compared.change) == (2, 1, 1)
    assert f.previous().start == START - (NOW - START)


def test_the_tickets_behind_a_figure_are_the_ones_it_counts():
    community = CommunityFactory.create()
    _resolve(ticket(community))
    _resolve(ticket(community), staff_replies=2)
    f = period(community)
    assert metrics.first_contact_resolution(f).value == 50.0
    fcr, resolved = (metrics.tickets_behind(k, f) for k in ("first_contact_resolution", "resolved"))
    assert fcr is not None
    assert resolved is not None
    assert (fcr.count(), resolved.count()) == (1, 2)
    assert metrics.tickets_behind("pages", f) is None


# ---------------------------------------------------------------- knowledge base


def _search(user, *, at, answered=False, article=None, source="suggest"):
    from knowledgebase.search.models import SearchLog

    return SearchLog.objects.create(
        user=user, query="pods pending", normalized="pods pending", source=source,
        result_count=1 if article else 0, created_at=at, opened_article=article,
        opened_at=at if article else None, answered_at=at if answered else None,
    )  # fmt: skip


def test_deflection_self_service_and_knowledge_base_usage():
    from tests.communities.factories import MembershipFactory
    from tests.knowledgebase.factories import ArticleFactory

    community = CommunityFactory.create()
    article = ArticleFactory.create()
    alice = MembershipFactory.create(community=community, role="representative").user
    bob = MembershipFactory.create(community=community, role="member").user
    stranger = MembershipFactory.create(role="member").user  # another community: not counted
    _search(alice, at=START + H, answered=True, article=article)  # deflected at once
    _search(bob, at=START + H, article=article)  # opened, waited 7 days, no ticket: deflected
    _search(bob, at=NOW - H)  # nothing came of it yet
    _search(alice, at=START + 2 * H)  # alice then opens a ticket an hour later
    _search(stranger, at=START + H, answered=True, article=article)
    ticket(community, created=START + 3 * H, requester=alice)  # searched before: KB used
    ticket(community, created=START + 4 * H)  # no search before
    f = period(community)
    assert metrics.deflection_rate(f).value == 50.0  # 2 of 4 searches
    assert metrics.self_service_share(f).value == 50.0  # 2 deflections, 2 tickets
    assert metrics.kb_usage(f).value == 50.0  # 1 of 2 tickets
    behind = metrics.tickets_behind("kb_usage", f)
    assert behind is not None
    assert list(behind.values_list("requester", flat=True)) == [alice.pk]


# ---------------------------------------------------------------- shared reads


def test_a_dashboard_s_shared_reads_give_the_same_figures_with_one_query_per_row_set(
    django_assert_num_queries,
):
    community = CommunityFactory.create()
    _resolve(ticket(community))
    _resolve(ticket(community), staff_replies=2)
    _resolve(ticket(community), reopened=True)
    t = ticket(community, first_responded_at=START + 2 * H)
    _clock(t, "first_response", "met", due_in=H, met_in=30 * M, used=1200)
    _clock(t, "resolution", "breached", due_in=H, breached_in=2 * H)
    f = period(community)
    keys = [k for k in metrics.METRICS if k not in ("utilisation", "budget_used")]
    fresh = {k: metrics.compute(k, f) for k in keys}
    with metrics.shared_reads():
        shared = {k: metrics.compute(k, f) for k in keys}
        # Everything read from the opened, resolved and clock sets is read once.
        with django_assert_num_queries(0):
            for k in ("volume", "resolved", "first_response", "resolution", "resolution_rate",
                      "first_contact_resolution", "reopen_rate", "escalation_rate",
                      "sla_first_response", "sla_resolution", "first_response_business"):  # fmt: skip
                metrics.compute(k, f)
    assert shared == fresh
    assert (fresh["first_contact_resolution"].value, fresh["reopen_rate"].value) == (33.3, 33.3)
    assert fresh["sla_first_response"].value == 100.0
    assert fresh["sla_resolution"].value == 0.0
    # Outside the block nothing is kept: a new ticket counts at once.
    ticket(community)
    assert metrics.volume(f).value == 5


# ---------------------------------------------------------------- uptime


@pytest.fixture
def real_time():
    """The incident services stamp their own clock: uptime runs at the real time."""
    with time_machine.travel(datetime.now(UTC), tick=True):
        yield


@pytest.mark.usefixtures("real_time")
def test_uptime_rows_read_all_communities_at_once_as_each_community_s_figure(
    django_assert_num_queries,
):
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from communities.models import ServicePlan
    from incidents.models import IncidentComponent, Service
    from incidents.services.updates import incident_update_post
    from incidents.uptime import community_uptime
    from tests.incidents.factories import declare

    plan = ServicePlan.objects.create(
        name="P", slug="p", uptime_guarantee=Decimal("99.9"), downtime_credit_percent=100,
        maintenance_window="8-hour weekly",
    )  # fmt: skip
    hit = CommunityFactory.create(service_plan=plan, time_zone="UTC", name="A hit")
    other = CommunityFactory.create(service_plan=plan, time_zone="Europe/Berlin", name="B other")
    outage = declare(communities=[hit])
    incident_update_post(incident=outage, actor=outage.commander, body="Fixed.", status="resolved")
    degraded = declare(communities=[hit, other])
    component = Service.objects.create(name="API").components.create(name="REST")
    IncidentComponent.objects.create(incident=degraded, component=component, degree="degraded")
    planned = declare(communities=[other], maintenance=True)
    outage.refresh_from_db()
    assert outage.resolved_at is not None
    now = outage.resolved_at + timedelta(minutes=5)
    planned.refresh_from_db()
    with django_assert_num_queries(5):
        rows = metrics.uptime_rows((hit.pk, other.pk), now=now)
    for row, community in zip(rows, (hit, other), strict=True):
        local = now.astimezone(ZoneInfo(community.time_zone))
        figure = community_uptime(community=community, year=local.year, month=local.month, now=now)
        assert (row.community, row.uptime_percent, row.downtime_minutes, row.met) == (
            community.name,
            float(figure.uptime_percent),
            int(figure.downtime.total_seconds() // 60),
            figure.met,
        )
