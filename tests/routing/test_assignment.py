"""Who gets the ticket: eligibility, capacity, the tie-breaks and substitutes."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from routing.models import AgentProfile
from routing.services.assignment import (
    LOAD_STATUSES,
    choose,
    claim,
    in_working_hours,
    pool_ids,
)
from tests.communities.factories import CommunityFactory
from tests.routing.factories import AgentProfileFactory, SkillFactory, TeamFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def _pick(community, *, tier="community", team=None, skill=None, holder=None):
    return choose(
        tier=tier,
        team=team,
        required_skill_id=skill.pk if skill else None,
        required_skill_name=skill.name if skill else "",
        community_id=community.pk,
        community_name=community.name,
        now=NOW,
        holder_id=holder,
    )


def _load(profile, n, status="assigned", community=None):
    for _ in range(n):
        TicketFactory.create(assignee=profile.user, status=status,
                             **({"community": community} if community else {}))  # fmt: skip


def _named(profile, name):
    profile.user.first_name, profile.user.last_name = name, ""
    profile.user.save()
    return profile


def test_load_counts_new_open_assigned_and_in_progress_only():
    assert LOAD_STATUSES == ("assigned", "in_progress", "new", "open")


def test_the_least_loaded_agent_wins():
    community = CommunityFactory.create()
    busy = _named(AgentProfileFactory.create(), "Busy")
    idle = _named(AgentProfileFactory.create(), "Idle")
    _load(busy, 2)
    _load(idle, 1)

    pick = _pick(community)

    assert pick.winner.user_id == idle.user_id
    assert pick.explanation == "Idle is the least loaded (1 of 10 open, next: Busy with 2)."
    assert [(c.name, c.rank, c.load) for c in pick.candidates] == [("Busy", 2, 2), ("Idle", 1, 1)]


def test_whoever_worked_the_community_most_recently_beats_a_lighter_load():
    community = CommunityFactory.create(name="Aurora")
    loaded = _named(AgentProfileFactory.create(), "Loaded")
    _named(AgentProfileFactory.create(), "Light")
    earlier = _named(AgentProfileFactory.create(), "Earlier")
    with time_machine.travel(NOW - timedelta(days=2)):
        _load(earlier, 1, status="resolved", community=community)
    with time_machine.travel(NOW - timedelta(days=1)):
        _load(loaded, 3, community=community)

    pick = _pick(community)

    assert pick.winner.user_id == loaded.user_id
    assert pick.explanation == "Loaded worked a ticket of Aurora most recently."
    assert [c.name for c in sorted(pick.candidates, key=lambda c: c.rank)] == [
        "Loaded", "Light", "Earlier",
    ]  # fmt: skip


def test_work_older_than_the_affinity_window_does_not_count(settings):
    settings.ROUTING_AFFINITY_DAYS = 30
    community = CommunityFactory.create()
    old_hand = AgentProfileFactory.create()
    AgentProfileFactory.create()
    with time_machine.travel(NOW - timedelta(days=31)):
        _load(old_hand, 1, status="resolved", community=community)

    pick = _pick(community)

    assert pick.winner.user_id == old_hand.user_id  # equal load (0): longest since last assigned
    assert pick.winner.community_worked_at is None


def test_closed_tickets_do_not_make_an_agent_the_communitys_latest():
    community = CommunityFactory.create()
    closer = AgentProfileFactory.create(last_assigned_at=NOW)
    other = AgentProfileFactory.create(last_assigned_at=NOW - timedelta(hours=1))
    with time_machine.travel(NOW - timedelta(hours=2)):
        _load(closer, 1, status="closed", community=community)

    pick = _pick(community)

    assert pick.winner.user_id == other.user_id
    assert [c.community_worked_at for c in pick.candidates] == [None, None]


def test_on_equal_load_the_longest_since_last_assigned_wins():
    community = CommunityFactory.create()
    _named(AgentProfileFactory.create(last_assigned_at=NOW - timedelta(minutes=1)), "Recent")
    _named(AgentProfileFactory.create(last_assigned_at=None), "Never")
    _named(AgentProfileFactory.create(last_assigned_at=NOW - timedelta(days=1)), "Long")

    pick = _pick(community)

    assert [c.name for c in sorted(pick.candidates, key=lambda c: c.rank)] == [
        "Never", "Long", "Recent",
    ]  # fmt: skip
    assert pick.explanation == (
        "Never and Long carry the same load (0); Never has waited longest since their last "
        "assignment."
    )


def test_an_agent_at_capacity_gets_nothing_more():
    community = CommunityFactory.create()
    full = _named(AgentProfileFactory.create(max_open_tickets=2), "Full")
    _load(full, 2)

    pick = _pick(community)

    assert pick.winner is None
    assert [(c.eligible, c.reason) for c in pick.candidates] == [(False, "full (2 of 2)")]
    assert pick.explanation == (
        "Nobody in tier community can take it now (1 full); it waits in the queue."
    )


@pytest.mark.parametrize("status", ["waiting_on_customer", "pending", "resolved", "closed"])
def test_tickets_that_wait_or_are_finished_do_not_count_as_load(status):
    community = CommunityFactory.create()
    agent = AgentProfileFactory.create(max_open_tickets=1)
    _load(agent, 3, status=status)

    assert _pick(community).winner.user_id == agent.user_id


@pytest.mark.parametrize(("status", "reason"), [("away", "away"), ("off", "off")])
def test_only_available_agents_receive_tickets(status, reason):
    community = CommunityFactory.create()
    AgentProfileFactory.create(status=status)

    pick = _pick(community)

    assert (pick.winner, [c.reason for c in pick.candidates]) == (None, [reason])


def test_the_category_skill_is_required():
    community = CommunityFactory.create()
    security = SkillFactory.create(name="Security")
    AgentProfileFactory.create()
    expert = AgentProfileFactory.create(skills=[security])

    pick = _pick(community, skill=security)

    assert pick.winner.user_id == expert.user_id
    assert sorted(c.reason for c in pick.candidates) == ["", "lacks the skill Security"]


@pytest.mark.parametrize(
    ("tier", "levels"),
    [
        ("self_service", [1]),
        ("community", [2]),
        ("expert", [3]),
        ("engineering", [4]),
        ("emergency", [3, 4]),
    ],
)
def test_each_tier_is_served_by_its_levels(tier, levels):
    by_level = {level: AgentProfileFactory.create(tier_level=level) for level in (1, 2, 3, 4)}

    assert pool_ids(tier=tier, team_id=None) == sorted(by_level[lv].pk for lv in levels)


def test_members_of_a_team_of_the_tier_serve_it_too_and_a_team_only_its_members():
    tier1 = AgentProfileFactory.create(tier_level=1)
    tier3 = AgentProfileFactory.create(tier_level=3)
    team = TeamFactory.create(tier="expert", members=[tier1])

    assert pool_ids(tier="expert", team_id=None) == sorted([tier1.pk, tier3.pk])
    assert pool_ids(tier="expert", team_id=team.pk) == [tier1.pk]


def test_inactive_and_former_staff_are_left_out():
    gone = AgentProfileFactory.create()
    gone.user.is_active = False
    gone.user.save()
    demoted = AgentProfileFactory.create()
    demoted.user.is_staff = False
    demoted.user.save()

    assert pool_ids(tier="community", team_id=None) == []


def test_an_away_agents_claim_on_a_community_passes_down_the_substitute_chain():
    community = CommunityFactory.create(name="Kestrel")
    stand_in = _named(AgentProfileFactory.create(tier_level=2), "Stand-in")
    also_away = _named(
        AgentProfileFactory.create(tier_level=1, status="away", substitute=stand_in), "Also"
    )
    absent = _named(AgentProfileFactory.create(status="away", substitute=also_away), "Absent")
    _named(AgentProfileFactory.create(), "Idle")
    _load(stand_in, 2)
    with time_machine.travel(NOW - timedelta(hours=3)):
        _load(absent, 1, status="waiting_on_customer", community=community)

    pick = _pick(community)

    assert pick.winner.user_id == stand_in.user_id
    assert pick.explanation == (
        "Stand-in worked a ticket of Kestrel most recently, standing in for Absent (away)."
    )


def test_a_substitute_chain_that_loops_or_ends_off_duty_passes_nothing():
    community = CommunityFactory.create()
    first = AgentProfileFactory.create(status="away")
    second = AgentProfileFactory.create(status="away", substitute=first)
    first.substitute = second
    first.save()
    off = AgentProfileFactory.create(status="off")
    third = AgentProfileFactory.create(status="away", substitute=off)
    light = _named(AgentProfileFactory.create(), "Light")
    with time_machine.travel(NOW - timedelta(hours=1)):
        _load(first, 1, status="pending", community=community)
        _load(third, 1, status="pending", community=community)

    pick = _pick(community)

    assert pick.winner.user_id == light.user_id
    assert pick.explanation == "Light is the only agent who fits."


def test_the_agent_routing_gave_the_ticket_keeps_it_while_they_fit_even_when_full():
    community = CommunityFactory.create()
    holder = AgentProfileFactory.create(max_open_tickets=1)
    _load(holder, 1)
    AgentProfileFactory.create()

    pick = _pick(community, holder=holder.user_id)

    assert (pick.winner.user_id, pick.kept) == (holder.user_id, True)


def test_claim_takes_the_winner_who_still_has_room():
    community = CommunityFactory.create()
    agent = AgentProfileFactory.create()
    pick = _pick(community)

    winner = pick.winner
    assert winner is not None
    assert winner.user_id == agent.user_id

    assert claim(pick, ticket_id=None) is winner


def test_claim_passes_over_a_winner_who_filled_up_meanwhile():
    community = CommunityFactory.create()
    first = _named(AgentProfileFactory.create(max_open_tickets=2), "First")
    second = _named(AgentProfileFactory.create(max_open_tickets=2), "Second")
    _load(second, 1)
    pick = _pick(community)
    assert pick.winner.user_id == first.user_id
    _load(first, 2)  # another worker gave First two tickets since the ranking

    claimed = claim(pick, ticket_id=None)

    assert claimed is not None
    assert claimed.user_id == second.user_id
    assert [(c.name, c.eligible, c.reason, c.load) for c in pick.candidates] == [
        ("First", False, "full (2 of 2)", 2),
        ("Second", True, "", 1),
    ]


@pytest.mark.parametrize(
    ("days", "starts", "ends", "moment", "working"),
    [
        ([], None, None, datetime(2026, 3, 8, 3, 0, tzinfo=UTC), True),  # around the clock
        ([1, 2, 3, 4, 5], None, None, datetime(2026, 3, 8, 12, 0, tzinfo=UTC), False),  # Sunday
        (
            [1, 2, 3, 4, 5],
            time(9),
            time(17),
            datetime(2026, 3, 4, 8, 0, tzinfo=UTC),
            True,
        ),  # 9:00 Berlin
        ([1, 2, 3, 4, 5], time(9), time(17), datetime(2026, 3, 4, 7, 59, tzinfo=UTC), False),
        (
            [1, 2, 3, 4, 5],
            time(9),
            time(17),
            datetime(2026, 3, 4, 16, 0, tzinfo=UTC),
            False,
        ),  # 17:00
        (
            [5],
            time(22),
            time(6),
            datetime(2026, 3, 7, 4, 0, tzinfo=UTC),
            True,
        ),  # Fri night shift, Sat 5:00
        (
            [5],
            time(22),
            time(6),
            datetime(2026, 3, 6, 4, 0, tzinfo=UTC),
            False,
        ),  # Fri 5:00 is Thursday's
        ([5], time(22), time(6), datetime(2026, 3, 6, 21, 30, tzinfo=UTC), True),  # Fri 22:30
        ([5], time(22), time(6), datetime(2026, 3, 7, 12, 0, tzinfo=UTC), False),
    ],
)
def test_working_hours_in_the_agents_time_zone(days, starts, ends, moment, working):
    profile = AgentProfile(
        time_zone="Europe/Berlin", work_days=days, work_starts=starts, work_ends=ends
    )
    assert in_working_hours(profile, moment) is working


def test_outside_working_hours_nobody_but_the_emergency_tier_is_served():
    community = CommunityFactory.create()
    AgentProfileFactory.create(
        tier_level=3,
        time_zone="UTC",
        work_days=[1, 2, 3, 4, 5],
        work_starts=time(12),
        work_ends=time(13),
    )

    assert [c.reason for c in _pick(community, tier="expert").candidates] == [
        "outside working hours"
    ]
    assert _pick(community, tier="emergency").winner is not None
