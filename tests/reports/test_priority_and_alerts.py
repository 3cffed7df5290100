"""Seed 004's order as a table; the score kept current by reactions; budget periods and their
notices, target crossings and scheduled summaries, each exactly once (their mail:
tests/reports/test_mail.py); /metrics' guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from communities.services import time_entry_log
from core.errors import Forbidden
from core.models import Event, EventDelivery
from core.outbox import delivery_run
from reports.budgets import budget_notices_send, budget_periods_roll
from reports.models import BudgetNotice, BudgetPeriod, ReportMailing, Target, ThresholdCrossing
from reports.priority import (
    BudgetState,
    priority_of,
    ticket_funding_set,
    ticket_priority_refresh,
)
from reports.summaries import monthly_summaries_send, weekly_summary_send
from reports.targets import DEFAULT_TARGETS, targets_check
from tests.communities.factories import CommunityFactory, MembershipFactory, SupportBudgetFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.mail.models import OutboundMail
from tickets.models import Ticket, TicketEvent
from web.desk.pagination import DEFAULT_SORT

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def mailed(kind: str) -> list[str]:
    """The recipients of the kind's mail in the outbox, in the order queued."""
    return list(
        OutboundMail.objects.filter(kind=kind).order_by("pk").values_list("recipient", flat=True)
    )


LEFT = BudgetState(budget_minutes=600, used_minutes=60)  # 90 % left
LITTLE_LEFT = BudgetState(budget_minutes=600, used_minutes=540)  # 10 % left
USED_UP = BudgetState(budget_minutes=600, used_minutes=600)

# Seed 004, "Prioritizing non-incident support requests", top to bottom (incidents first:
# "we will prioritize resolving it over everything else"). Each row: kind, funded,
# communities affected, budget.
SEED_004_ORDER = [
    ("incident", False, 1, USED_UP),  # an incident, whatever its community's budget
    ("change_request", True, 1, USED_UP),  # 1. dedicated funding
    ("question", False, 3, USED_UP),  # 2. impacts many communities
    ("question", False, 1, LEFT),  # 5. a community that has not used much budget
    ("question", False, 1, LITTLE_LEFT),  #    ... before one that has used more
    ("question", False, 1, None),  # a community without a budget: between
    ("question", False, 1, USED_UP),  # 8. no more budget
]


def test_seed_004s_order_is_the_order_of_the_scores():
    scores = [
        priority_of(kind=k, funded=f, communities_affected=n, budget=b).score
        for k, f, n, b in SEED_004_ORDER
    ]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)
    assert scores == [1000, 400, 200, 109, 101, 50, 0]


def test_the_reasons_say_why():
    priority = priority_of(kind="question", funded=True, communities_affected=2, budget=LEFT)
    assert priority.reasons == [
        "Dedicated funding (+400)",
        "Affects 2 communities through linked tickets and incidents (+200)",
        "The community has 90 % of its support budget left (+109)",
    ]
    assert priority.score == 709


def test_the_desk_queue_orders_by_priority_by_default():
    assert DEFAULT_SORT == "-priority"


def _run_deliveries():
    for delivery in EventDelivery.objects.filter(state="pending").order_by("pk"):
        delivery_run(delivery_id=delivery.pk)


def test_an_incident_across_communities_and_time_logged_re_rank(agent):
    """Links join tickets of one community only (tickets.services.relations), so a request
    affects many communities through the incident it is attached to."""
    from incidents.models import Incident, IncidentCommunity, IncidentTicket

    with time_machine.travel(NOW, tick=False):
        ours, theirs = CommunityFactory.create(time_zone="UTC"), CommunityFactory.create()
        SupportBudgetFactory.create(community=ours, hours=10, period="month")
        ticket = TicketFactory.create(community=ours, kind="change_request")
        assert ticket_priority_refresh(ticket_id=ticket.pk).score == 110
        incident = Incident.objects.create(
            title="Storage down", severity="SEV2", declared_by=agent, commander=agent,
            impact_started_at=NOW, detected_at=NOW,
        )  # fmt: skip
        for community in (ours, theirs):
            IncidentCommunity.objects.create(incident=incident, community=community)
        IncidentTicket.objects.create(incident=incident, ticket=ticket)
        assert ticket_priority_refresh(ticket_id=ticket.pk).score == 310
        time_entry_log(ticket=ticket, agent=agent, minutes=600)
        _run_deliveries()  # the time.logged reaction
        ticket.refresh_from_db()
        assert ticket.priority_score == 200
        assert ticket.priority_reasons == [
            "Affects 2 communities through linked tickets and incidents (+200)",
            "The community's support budget is used up (+0)",
        ]


def test_linking_re_ranks_both_tickets_through_the_reactions(agent):
    from tickets.services.relations import ticket_link_add

    community = CommunityFactory.create()
    ticket, other = TicketFactory.create_batch(2, community=community, kind="question")
    ticket_link_add(ticket=ticket, other=other, actor=agent)
    _run_deliveries()
    assert sorted(Ticket.objects.values_list("priority_score", flat=True)) == [50, 50]


def test_the_ticket_page_shows_the_score_and_its_reasons(client, agent):
    ticket = TicketFactory.create(kind="question")
    ticket_priority_refresh(ticket_id=ticket.pk)
    client.force_login(agent)
    html = client.get(f"/desk/tickets/{ticket.reference}/").content.decode()
    assert "Priority <strong>50</strong>" in html
    assert "No support budget set for the community (+50)" in html
    client.post(f"/desk/tickets/{ticket.reference}/funding/", {"funded": "1"})
    ticket.refresh_from_db()
    assert (ticket.funded, ticket.priority_score) == (True, 450)


def test_marking_a_request_funded_is_audited_and_shown_in_its_history(client, agent):
    ticket = TicketFactory.create(kind="question")
    client.force_login(agent)
    url = f"/desk/tickets/{ticket.reference}/funding/"

    client.post(url, {"funded": "1"})
    client.post(url, {"funded": "1"})  # already funded: nothing to record
    client.post(url, {"funded": "0"})

    events = TicketEvent.objects.filter(ticket=ticket, kind="updated").order_by("pk")
    assert [(e.actor, e.data) for e in events] == [
        (agent, {"changes": {"funded": [False, True]}}),
        (agent, {"changes": {"funded": [True, False]}}),
    ]
    assert list(
        ticket.history.order_by("history_id").values_list("funded", "history_user")[1:]
    ) == [(True, agent.pk), (False, agent.pk)]
    published = Event.objects.filter(name="ticket.updated").order_by("pk")
    assert [e.payload["fields"] for e in published] == [["funded"], ["funded"]]  # re-ranks
    html = client.get(f"/desk/tickets/{ticket.reference}/?tab=history").content.decode()
    who = f"<strong>{agent.display_name}</strong>"
    assert f"{who} changed dedicated funding: no → yes" in html
    assert f"{who} changed dedicated funding: yes → no" in html


def test_only_agents_mark_a_request_funded(member):
    ticket = TicketFactory.create(kind="question")
    with pytest.raises(Forbidden):
        ticket_funding_set(ticket=ticket, funded=True, actor=member)
    ticket.refresh_from_db()
    assert ticket.funded is False
    assert not TicketEvent.objects.filter(ticket=ticket, kind="updated").exists()


# ---------------------------------------------------------------- budget periods and notices


def test_budget_periods_roll_over_on_their_own():
    community = CommunityFactory.create(time_zone="Europe/Berlin")
    SupportBudgetFactory.create(community=community, hours=10, period="quarter")
    with time_machine.travel(datetime(2026, 3, 31, 21, 59, tzinfo=UTC), tick=False):
        assert len(budget_periods_roll()) == 1
        assert budget_periods_roll() == []
    with time_machine.travel(datetime(2026, 3, 31, 22, 0, tzinfo=UTC), tick=False):  # Berlin: April
        [period] = budget_periods_roll()
    assert (period.starts_at, period.ends_at) == (
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC),
        datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
    )
    assert BudgetPeriod.objects.count() == 2


def test_staff_and_representatives_are_told_at_80_and_100_percent_once_per_period(agent):
    lead = AgentFactory.create(email="lead@desk.example")
    Group.objects.get_or_create(name="Support leads")[0].user_set.add(lead)
    community = CommunityFactory.create(time_zone="UTC")
    rep = MembershipFactory.create(community=community, role="representative").user
    SupportBudgetFactory.create(community=community, hours=10, period="month")
    ticket = TicketFactory.create(community=community)
    with time_machine.travel(NOW, tick=False):
        time_entry_log(ticket=ticket, agent=agent, minutes=470)
        assert budget_notices_send(community_id=community.pk) == []
        time_entry_log(ticket=ticket, agent=agent, minutes=10)  # 480 of 600: 80 %
        assert [n.level for n in budget_notices_send(community_id=community.pk)] == [80]
        assert budget_notices_send(community_id=community.pk) == []
        time_entry_log(ticket=ticket, agent=agent, minutes=200)
        assert [n.level for n in budget_notices_send(community_id=community.pk)] == [100]
        assert budget_notices_send(community_id=community.pk) == []
    representatives = [rep.email, ticket.requester.email]  # the factory's requester represents too
    assert sorted(mailed("budget_notice")) == sorted([*representatives, lead.email] * 2)
    first = OutboundMail.objects.filter(kind="budget_notice").order_by("pk").first()
    assert first is not None
    assert "80 % of the support budget used" in first.subject
    with time_machine.travel(NOW + timedelta(days=1), tick=False):  # April: a new period
        time_entry_log(ticket=ticket, agent=agent, minutes=500)
        assert [n.level for n in budget_notices_send(community_id=community.pk)] == [80]
    assert BudgetNotice.objects.count() == 3


# ---------------------------------------------------------------- targets


def test_the_default_targets_are_the_seeds_figures():
    stored = {
        t.metric: (t.direction, float(t.target), float(t.threshold)) for t in Target.objects.all()
    }
    assert stored == {d.metric: (d.direction, d.target, d.threshold) for d in DEFAULT_TARGETS}


@pytest.mark.parametrize(
    ("direction", "value", "state"),
    [("higher", 95, "met"), ("higher", 90, "met"), ("higher", 85, "at_risk"), ("higher", 79.9, "missed"),
     ("lower", 5, "met"), ("lower", 20, "at_risk"), ("lower", 31, "missed"), ("lower", None, "no_data")],
)  # fmt: skip
def test_a_figure_is_met_at_risk_or_missed(direction, value, state):
    target = Target(metric="x", direction=direction, target=90 if direction == "higher" else 10,
                    threshold=80 if direction == "higher" else 30)  # fmt: skip
    assert target.assess(value) == state


def test_crossing_a_threshold_tells_the_support_leads_once_per_crossing():
    lead = AgentFactory.create(email="lead@desk.example", is_superuser=True)
    Target.objects.exclude(metric="satisfaction").update(active=False)
    community = CommunityFactory.create()
    from tickets.models import SatisfactionRating

    def rate(score):
        t = TicketFactory.create(community=community)
        SatisfactionRating.objects.create(
            ticket=t, requester=t.requester, score=score, answered_at=NOW - timedelta(hours=1)
        )

    with time_machine.travel(NOW, tick=False):
        rate("bad")  # 0 % good: missed
        assert [r.crossed for r in targets_check()] == [True]
        assert [r.crossed for r in targets_check()] == [False]  # still missed: no second mail
        for _ in range(9):
            rate("good")  # 90 %: met, the crossing closes
        assert [r.state for r in targets_check()] == ["met"]
        for _ in range(10):
            rate("bad")  # 45 %: a second crossing
        assert [r.crossed for r in targets_check()] == [True]
    assert mailed("threshold_crossed") == [lead.email, lead.email]
    assert ThresholdCrossing.objects.filter(cleared_at__isnull=True).count() == 1
    assert ThresholdCrossing.objects.count() == 2


# ---------------------------------------------------------------- scheduled mail


def test_the_weekly_and_monthly_summaries_go_once_to_their_readers():
    lead = AgentFactory.create(email="lead@desk.example", is_superuser=True)
    community = CommunityFactory.create(name="Ours")
    rep = MembershipFactory.create(community=community, role="representative").user
    MembershipFactory.create(community=community, role="member")
    TicketFactory.create(
        community=community, requester=rep, created_at=datetime(2026, 3, 10, tzinfo=UTC)
    )
    with time_machine.travel(datetime(2026, 4, 1, 7, tzinfo=UTC), tick=False):
        assert weekly_summary_send() == 1
        assert weekly_summary_send() == 0
        assert monthly_summaries_send() == 1
        assert monthly_summaries_send() == 0
    assert mailed("weekly_summary") == [lead.email]
    assert mailed("monthly_summary") == [rep.email]
    monthly = OutboundMail.objects.get(kind="monthly_summary")
    assert monthly.subject == "Ours: support in March 2026"
    assert "Tickets opened: 1 (0)" in monthly.text
    assert sorted(ReportMailing.objects.values_list("kind", "recipients")) == [
        ("monthly_community", 1), ("weekly_leads", 1),
    ]  # fmt: skip


# ---------------------------------------------------------------- /metrics


def test_metrics_answer_the_allow_list_and_the_token_only(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    settings.METRICS_ALLOWED_IPS = ["10.0.0.9"]
    TicketFactory.create(tier="expert", severity="high")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'supportdesk_open_tickets{severity="high",tier="expert"} 1.0' in body
    assert "supportdesk_sla_clocks_at_risk 0.0" in body
    assert 'supportdesk_pages_open{state="triggered"} 0.0' in body
    assert "django_http_requests" in body
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.9").status_code == 200


# ---------------------------------------------------------------- admin


@pytest.mark.parametrize(
    "path",
    ["/admin/reports/target/", "/admin/reports/target/add/", "/admin/reports/thresholdcrossing/",
     "/admin/reports/budgetperiod/", "/admin/reports/budgetnotice/", "/admin/reports/reportmailing/"],
)  # fmt: skip
def test_the_reports_admin_pages_render(client, path):
    client.force_login(AgentFactory.create(is_superuser=True))
    assert client.get(path).status_code == 200


def test_the_admin_changes_a_target_and_refuses_a_threshold_on_the_good_side(client):
    client.force_login(AgentFactory.create(is_superuser=True))
    target = Target.objects.get(metric="satisfaction")
    form = {"metric": "satisfaction", "direction": "higher", "target": "95", "threshold": "85",
            "window_days": "7", "source": "ours", "active": "on"}  # fmt: skip
    assert client.post(f"/admin/reports/target/{target.pk}/change/", form).status_code == 302
    target.refresh_from_db()
    assert (float(target.target), float(target.threshold)) == (95.0, 85.0)
    form["threshold"] = "99"
    assert client.post(f"/admin/reports/target/{target.pk}/change/", form).status_code == 200
    target.refresh_from_db()
    assert float(target.threshold) == 85.0
