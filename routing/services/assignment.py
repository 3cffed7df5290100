"""Who takes a ticket: the candidates of its tier (or team), why each can or cannot, and
the winner (seed 004's questions, in order).

1. Candidates: active agents whose tier level serves the ticket's tier (or who are in a team
   of that tier), or the members of the team a rule chose.
2. Each must be available (not away, not off), inside their working hours (except for the
   emergency tier, which runs around the clock), have the skill the category needs, and
   have room: fewer working tickets than their maximum. Load counts the agent's assigned
   tickets that are new, open, assigned or in progress: waiting on the customer and
   planned work (pending) do not count (tickets.states.WAITING), nor finished tickets.
3. Among those: whoever most recently worked a ticket of the same community (an away
   agent's claim passes to their substitute, followed down the chain), then the least
   loaded, then whoever has waited longest since their last assignment.

Routing ranks without locks, then `claim` takes the winner under their profile row's lock
and counts their load again before the ticket is given to them (the lock is held until the
caller's transaction ends): two workers routing at once count each other's assignments and
cannot push an agent past capacity, yet they only wait for each other when they want the
same agent.

A worker routing a batch of tickets in one transaction passes a `Batch`, which first locks
every agent of the pools the batch needs (`Batch.lock_pools`): what `choose` reads (the
pool, who has the skill, the loads, each community's recent work) is then read once per
batch under those locks and kept up to date as the batch assigns, and `claim` needs no
lock or count of its own, so each ticket after the first costs no queries here.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet

from routing.models import AgentProfile, Team
from tickets.models import Ticket
from tickets.states import ACTIVE, WAITING, TicketStatus

TIER_AGENT_LEVELS: dict[str, tuple[int, ...]] = {
    "self_service": (1,),
    "community": (2,),
    "expert": (3,),
    "engineering": (4,),
    # seed 000: "on-call expert engineer"; seed 001: tiers 3 and 4 handle P1 issues.
    "emergency": (3, 4),
}
LOAD_STATUSES: tuple[str, ...] = tuple(sorted(str(s) for s in ACTIVE - WAITING))
AROUND_THE_CLOCK_TIERS = frozenset({"emergency"})
WORKED_STATUSES: tuple[str, ...] = tuple(sorted(str(s) for s in ACTIVE | {TicketStatus.RESOLVED}))


@dataclass
class Candidate:
    profile_id: int
    user_id: int
    name: str
    tier_level: int
    status: str
    load: int = 0
    capacity: int = 0
    eligible: bool = False
    reason: str = ""
    community_worked_at: datetime | None = None
    affinity_via: str = ""  # the away agent whose claim this substitute carries
    last_assigned_at: datetime | None = None
    rank: int | None = None
    user: Any = field(default=None, repr=False)  # the User, for the assignment itself

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.user_id,
            "name": self.name,
            "tier_level": self.tier_level,
            "status": self.status,
            "eligible": self.eligible,
            "reason": self.reason,
            "load": self.load,
            "capacity": self.capacity,
            "community_worked_at": _iso(self.community_worked_at),
            "affinity_via": self.affinity_via,
            "last_assigned_at": _iso(self.last_assigned_at),
            "rank": self.rank,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class Batch:
    """What `choose` and `claim` read, kept for the tickets of one batch (one transaction)."""

    pools: dict[tuple[str, int | None], list[AgentProfile]] = field(default_factory=dict)
    skilled: dict[tuple[str, int | None, int], set[int]] = field(default_factory=dict)
    loads: dict[int, int] = field(default_factory=dict)  # agent's user id → load
    # community id → {agent's user id: last worked}, and whose work was read for it
    worked: dict[int, dict[int, datetime]] = field(default_factory=dict)
    worked_read: dict[int, set[int]] = field(default_factory=dict)
    assigned_at: dict[int, datetime] = field(default_factory=dict)  # profile id → when

    def lock_pools(self, pools: set[tuple[str, Team | None]]) -> None:
        """Lock the profiles of every agent of these pools (tier, team), in one order, and
        read the pools afresh under the lock. `choose` reads only the pools locked here."""
        if not pools:
            return
        keys = [(tier, team.pk if team else None) for tier, team in pools]
        everyone = AgentProfile.objects.none()
        for tier, team_id in keys:
            everyone = everyone | pool(tier=tier, team_id=team_id)
        locking = everyone.select_for_update(of=("self",)).order_by("pk")
        list(locking.values_list("pk", flat=True))  # takes the locks
        for tier, team_id in keys:
            self.pools[(tier, team_id)] = _pool_profiles(tier, team_id)

    def forget_counts(self) -> None:
        """Someone was given a ticket outside the batch's own count: count again."""
        self.loads.clear()
        self.worked.clear()
        self.worked_read.clear()

    def took(self, candidate: Candidate, *, community_id: int | None, now: datetime) -> None:
        """`candidate` was given a ticket of `community_id` (claimed) at `now`."""
        self.loads[candidate.user_id] = candidate.load + 1
        self.assigned_at[candidate.profile_id] = now
        if community_id is not None:
            self.worked.setdefault(community_id, {})[candidate.user_id] = now

    def save(self) -> None:
        """Write the agents' last assignment times (one statement)."""
        if self.assigned_at:
            profiles = [
                AgentProfile(pk=pk, last_assigned_at=at) for pk, at in self.assigned_at.items()
            ]
            AgentProfile.objects.bulk_update(profiles, ["last_assigned_at"])


def _pool_profiles(tier: str, team_id: int | None) -> list[AgentProfile]:
    return list(pool(tier=tier, team_id=team_id).select_related("user").order_by("pk"))


def _batch_skilled(
    batch: Batch, tier: str, team: Team | None, skill_id: int, ids: list[int]
) -> set[int]:
    key = (tier, team.pk if team else None, skill_id)
    if key not in batch.skilled:
        batch.skilled[key] = _skilled(ids, skill_id)
    return batch.skilled[key]


def _batch_loads(batch: Batch, user_ids: list[int]) -> dict[int, int]:
    missing = [pk for pk in user_ids if pk not in batch.loads]
    if missing:
        counted = _loads(missing, exclude_ticket_id=None)
        batch.loads.update({pk: counted.get(pk, 0) for pk in missing})
    return batch.loads


def _batch_worked(
    batch: Batch, community_id: int, user_ids: list[int], now: datetime
) -> dict[int, datetime]:
    read = batch.worked_read.setdefault(community_id, set())
    worked = batch.worked.setdefault(community_id, {})
    missing = [pk for pk in user_ids if pk not in read]
    if missing:
        for pk, at in _community_work(community_id, missing, now, None).items():
            if pk not in worked or worked[pk] < at:
                worked[pk] = at
        read.update(missing)
    return worked


def _skilled(ids: list[int], skill_id: int) -> set[int]:
    return set(
        AgentProfile.skills.through.objects.filter(
            agentprofile_id__in=ids, skill_id=skill_id
        ).values_list("agentprofile_id", flat=True)
    )


@dataclass
class Pick:
    winner: Candidate | None
    candidates: list[Candidate] = field(default_factory=list)
    explanation: str = ""
    kept: bool = False  # the current (automatic) assignee still fits


def in_working_hours(profile: AgentProfile, now: datetime) -> bool:
    local = now.astimezone(zoneinfo.ZoneInfo(profile.time_zone))
    starts, ends = profile.work_starts, profile.work_ends
    if starts is None or ends is None:
        return not profile.work_days or local.isoweekday() in profile.work_days
    clock = local.time()
    if starts <= ends:
        return (not profile.work_days or local.isoweekday() in profile.work_days) and (
            starts <= clock < ends
        )
    # A shift past midnight belongs to the day it started on.
    if clock >= starts:
        return not profile.work_days or local.isoweekday() in profile.work_days
    if clock < ends:
        yesterday = (local - timedelta(days=1)).isoweekday()
        return not profile.work_days or yesterday in profile.work_days
    return False


def pool(*, tier: str, team_id: int | None) -> QuerySet[AgentProfile]:
    """The agents who serve `tier` (or `team_id`), active staff only, without duplicates
    (team membership is a sub-select, not a join), so the rows can be locked as they are."""
    members = Team.members.through.objects
    if team_id is not None:
        who = Q(pk__in=members.filter(team_id=team_id).values("agentprofile_id"))
    else:
        who = Q(tier_level__in=TIER_AGENT_LEVELS[tier]) | Q(
            pk__in=members.filter(team__tier=tier).values("agentprofile_id")
        )
    return AgentProfile.objects.filter(who, user__is_active=True, user__is_staff=True)


def pool_ids(*, tier: str, team_id: int | None) -> list[int]:
    return sorted(pool(tier=tier, team_id=team_id).values_list("pk", flat=True))


def _loads(user_ids: list[int], *, exclude_ticket_id: int | None) -> dict[int, int]:
    tickets = Ticket.objects.filter(assignee_id__in=user_ids, status__in=LOAD_STATUSES)
    if exclude_ticket_id is not None:
        tickets = tickets.exclude(pk=exclude_ticket_id)
    return dict(
        tickets.values("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n")
    )


def _community_work(
    community_id: int, user_ids: list[int], now: datetime, exclude_ticket_id: int | None
) -> dict[int, datetime]:
    """{agent user id: when they last worked a ticket of the community}: the last change of
    a ticket of the community assigned to them that is not closed (still open, waiting, or
    resolved and not yet confirmed), within ROUTING_AFFINITY_DAYS. Closed tickets are left
    out so that the (community, status) index finds the rows: a community's closed history
    is most of its tickets."""
    since = now - timedelta(days=settings.ROUTING_AFFINITY_DAYS)
    tickets = Ticket.objects.filter(
        community_id=community_id,
        status__in=WORKED_STATUSES,
        assignee_id__in=user_ids,
        updated_at__gte=since,
    )
    if exclude_ticket_id is not None:
        tickets = tickets.exclude(pk=exclude_ticket_id)
    return dict(
        tickets.values("assignee_id")
        .annotate(at=Max("updated_at"))
        .values_list("assignee_id", "at")
    )


def _substitute_for(profile_id: int, chain: dict[int, tuple[str, int | None]]) -> int | None:
    """Follow an away agent's substitutes, through those away too, to an available one."""
    seen = {profile_id}
    current = chain[profile_id][1]
    while current is not None and current not in seen:
        seen.add(current)
        status, substitute = chain.get(current, ("off", None))
        if status == AgentProfile.Status.AVAILABLE:
            return current
        if status != AgentProfile.Status.AWAY:
            return None
        current = substitute
    return None


def choose(
    *,
    tier: str,
    team: Team | None,
    required_skill_id: int | None,
    required_skill_name: str = "",
    community_id: int | None,
    community_name: str = "",
    now: datetime,
    ticket_id: int | None = None,
    holder_id: int | None = None,
    batch: Batch | None = None,
) -> Pick:
    """Rank the candidates for a ticket and pick one (see the module's docstring).

    `holder_id`: the agent routing gave the ticket earlier; they keep it if they still fit
    (capacity aside: the ticket is already theirs). `ticket_id`: the ticket being routed,
    left out of load and community counts.
    """
    team_id = team.pk if team else None
    found = _pool_profiles(tier, team_id) if batch is None else batch.pools[(tier, team_id)]
    ids = [p.pk for p in found]
    where = f"team {team.name}" if team else f"tier {tier.replace('_', ' ')}"
    if not found:
        return Pick(None, [], f"Nobody serves {where}.")
    skilled: set[int] = set()
    if required_skill_id is not None:
        skilled = (
            _skilled(ids, required_skill_id)
            if batch is None
            else _batch_skilled(batch, tier, team, required_skill_id, ids)
        )
    user_ids = [p.user_id for p in found]
    if batch is None:
        loads = _loads(user_ids, exclude_ticket_id=ticket_id)
        worked = (
            {} if community_id is None else _community_work(community_id, user_ids, now, ticket_id)
        )
    else:
        # A batch routes tickets on their first run: none is assigned yet, so none is to
        # be left out of the counts.
        loads = _batch_loads(batch, user_ids)
        worked = {} if community_id is None else _batch_worked(batch, community_id, user_ids, now)
    around_the_clock = tier in AROUND_THE_CLOCK_TIERS

    candidates: list[Candidate] = []
    for profile in found:
        c = Candidate(
            profile_id=profile.pk,
            user_id=profile.user_id,
            name=profile.user.display_name,
            tier_level=profile.tier_level,
            status=profile.status,
            load=loads.get(profile.user_id, 0),
            capacity=profile.max_open_tickets,
            community_worked_at=worked.get(profile.user_id),
            last_assigned_at=(
                batch.assigned_at.get(profile.pk, profile.last_assigned_at)
                if batch is not None
                else profile.last_assigned_at
            ),
            user=profile.user,
        )
        is_holder = profile.user_id == holder_id
        if profile.status != AgentProfile.Status.AVAILABLE:
            c.reason = profile.get_status_display().lower()
        elif not around_the_clock and not in_working_hours(profile, now):
            c.reason = "outside working hours"
        elif required_skill_id is not None and profile.pk not in skilled:
            c.reason = f"lacks the skill {required_skill_name or required_skill_id}"
        elif c.load >= c.capacity and not is_holder:
            c.reason = f"full ({c.load} of {c.capacity})"
        else:
            c.eligible = True
        candidates.append(c)

    eligible = [c for c in candidates if c.eligible]
    holder = next((c for c in eligible if c.user_id == holder_id), None)
    if holder is not None:
        holder.rank = 1
        holder.reason = "already has it and still fits"
        return Pick(holder, candidates, f"{holder.name} already has it and still fits.", kept=True)
    if not eligible:
        return Pick(None, candidates, _nobody(where, candidates, required_skill_name))

    _pass_claims_to_substitutes(candidates, worked)
    claimants = [c for c in eligible if c.community_worked_at is not None]
    favourite = max(claimants, key=lambda c: c.community_worked_at or now, default=None)
    oldest = datetime.min.replace(tzinfo=now.tzinfo)
    eligible.sort(
        key=lambda c: (c is not favourite, c.load, c.last_assigned_at or oldest, c.profile_id)
    )
    for rank, c in enumerate(eligible, start=1):
        c.rank = rank
    winner = eligible[0]
    return Pick(winner, candidates, _why(winner, eligible, favourite, community_name))


def claim(pick: Pick, *, ticket_id: int | None, batch: Batch | None = None) -> Candidate | None:
    """The best-ranked eligible candidate of `pick` who still has room, their profile row
    locked. First without waiting (SKIP LOCKED: another worker is giving that agent a ticket
    right now, so the next in rank is tried), then, if every one was busy, waiting for them
    in rank order. Under the lock the agent's status and load are read again; one who went
    away or filled up meanwhile is marked so and passed over. A batch holds the locks of
    every agent of its pools and counted their loads under them: its winner stands."""
    ranked = sorted((c for c in pick.candidates if c.eligible), key=lambda c: c.rank or 0)
    if batch is not None:
        return ranked[0] if ranked else None
    busy: list[Candidate] = []
    for wait, turn in ((False, ranked), (True, busy)):
        for c in list(turn):
            rows = AgentProfile.objects.select_for_update(skip_locked=not wait).filter(
                pk=c.profile_id
            )
            profile = rows.only("status", "max_open_tickets").first()
            if profile is None:
                if not wait:
                    busy.append(c)
                continue
            c.load = _loads([c.user_id], exclude_ticket_id=ticket_id).get(c.user_id, 0)
            c.capacity = profile.max_open_tickets
            if profile.status != AgentProfile.Status.AVAILABLE:
                c.eligible, c.reason = False, profile.get_status_display().lower()
            elif c.load >= c.capacity:
                c.eligible, c.reason = False, f"full ({c.load} of {c.capacity})"
            else:
                return c
    return None


def _pass_claims_to_substitutes(candidates: list[Candidate], worked: dict[int, datetime]) -> None:
    """An away agent who worked the community most recently passes that claim on to the
    first available substitute down their chain, if that substitute is a candidate."""
    away = [c for c in candidates if c.status == AgentProfile.Status.AWAY and c.community_worked_at]
    if not away:
        return
    chain: dict[int, tuple[str, int | None]] = {
        pk: (status, substitute)
        for pk, status, substitute in AgentProfile.objects.values_list(
            "pk", "status", "substitute_id"
        )
    }
    by_profile = {c.profile_id: c for c in candidates}
    for absent in away:
        stand_in = by_profile.get(_substitute_for(absent.profile_id, chain) or -1)
        if stand_in is None or not stand_in.eligible:
            continue
        claim = absent.community_worked_at
        assert claim is not None
        if stand_in.community_worked_at is None or stand_in.community_worked_at < claim:
            stand_in.community_worked_at = claim
            stand_in.affinity_via = absent.name


def _why(
    winner: Candidate, ranked: list[Candidate], favourite: Candidate | None, community: str
) -> str:
    of = f" of {community}" if community else ""
    if winner is favourite:
        via = f", standing in for {winner.affinity_via} (away)" if winner.affinity_via else ""
        return f"{winner.name} worked a ticket{of} most recently{via}."
    runner = ranked[1] if len(ranked) > 1 else None
    if runner is None:
        return f"{winner.name} is the only agent who fits."
    if winner.load < runner.load:
        return (
            f"{winner.name} is the least loaded ({winner.load} of {winner.capacity} open, "
            f"next: {runner.name} with {runner.load})."
        )
    return (
        f"{winner.name} and {runner.name} carry the same load ({winner.load}); "
        f"{winner.name} has waited longest since their last assignment."
    )


def _nobody(where: str, candidates: list[Candidate], skill: str) -> str:
    reasons: dict[str, int] = {}
    for c in candidates:
        key = c.reason.split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    need = f" with the skill {skill}" if skill else ""
    return f"Nobody in {where}{need} can take it now ({summary}); it waits in the queue."
