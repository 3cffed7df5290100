"""The policy test: who a policy would notify, when and how, for a page triggered at an
instant; computed, never run. Nothing is written and nothing is sent (the admin's
"Policy test" on an escalation policy).

It walks the policy's steps as the engine would if nobody acknowledged: a wait moves the
clock on, a notify step resolves its people at that moment (the on-call person of a
schedule with incidents.oncall's `on_call` / `next_on_call` at that instant, a team's
members, or the next member of a round-robin team counting from the team's cursor without
moving it), a time window waits until it opens, a repeat goes back up to its count, and the
fallback comes last. Each person's channels are their own notification rules for the step's
importance (incidents.notify's `steps_for`), each after its delay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.models import User
from incidents.paging.models import (
    EscalationPolicy,
    EscalationStep,
    Importance,
    OnCallWhen,
    StepKind,
    TeamCursor,
    TeamMode,
)
from incidents.paging.services.engine import (
    _window_zone,
    fallback_people,
    policy_steps,
    team_members,
    window_opens,
)

# Enough for ten repeats of a long policy; a longer walk is cut short and says so.
MAX_ROWS = 300


@dataclass(frozen=True)
class Channel:
    label: str  # "Email", "SMS", ...
    after_minutes: int
    at: datetime


@dataclass(frozen=True)
class Row:
    """One line of the test: a step reached at `at` (`offset` after the trigger), and the
    person it notifies, if any."""

    offset: timedelta
    at: datetime
    position: int | None  # None: the fallback
    repeat: int
    what: str
    person: User | None = None
    important: bool = False
    why: str = ""
    channels: list[Channel] = field(default_factory=list)

    @property
    def offset_minutes(self) -> int:
        return int(self.offset.total_seconds() // 60)


@dataclass(frozen=True)
class Preview:
    policy: EscalationPolicy
    at: datetime
    rows: list[Row]
    truncated: bool = False


def _channels(person: User, important: bool, at: datetime) -> list[Channel]:
    from incidents.notify.models import Channel as NotifyChannel
    from incidents.notify.services import steps_for

    importance = Importance.IMPORTANT if important else Importance.DEFAULT
    labels = dict(NotifyChannel.choices)
    return [
        Channel(
            label=labels.get(step.channel, step.channel),
            after_minutes=step.delay_minutes,
            at=at + timedelta(minutes=step.delay_minutes),
        )
        for step in steps_for(user=person, importance=importance)
    ]


class _Walk:
    def __init__(self, policy: EscalationPolicy, at: datetime) -> None:
        self.policy = policy
        self.start = at
        self.now = at
        self.rows: list[Row] = []
        self.cursors: dict[int, int] = {}

    def add(self, step: EscalationStep | None, repeat: int, what: str, **more: object) -> None:
        self.rows.append(
            Row(
                offset=self.now - self.start,
                at=self.now,
                position=step.position if step is not None else None,
                repeat=repeat,
                what=what,
                **more,  # type: ignore[arg-type]
            )
        )

    def notify(self, step: EscalationStep | None, repeat: int, people: list[User], *,
               important: bool, why: str, what: str) -> None:  # fmt: skip
        active = [p for p in people if p.is_active]
        if not active:
            self.add(step, repeat, what, why=why or "nobody to notify", important=important)
            return
        seen: set[int] = set()
        for person in active:
            if person.pk in seen:
                continue
            seen.add(person.pk)
            self.add(
                step, repeat, what, person=person, important=important, why=why,
                channels=_channels(person, important, self.now),
            )  # fmt: skip

    def recipients(self, step: EscalationStep) -> tuple[list[User], str]:
        """Like the engine's step_recipients, but a round-robin team's cursor is read,
        never moved."""
        if step.kind == StepKind.NOTIFY_ON_CALL:
            from incidents.oncall.selectors import next_on_call, on_call

            assert step.schedule is not None
            person = on_call(step.schedule, self.now)
            if person is not None:
                return [person], f"on call in {step.schedule}"
            if step.on_call_when == OnCallWhen.NEXT:
                upcoming = next_on_call(step.schedule, self.now)
                if upcoming is not None:
                    person, starts = upcoming
                    return [
                        person
                    ], f"next on call in {step.schedule}, from {starts:%Y-%m-%d %H:%M} UTC"
            return [], f"nobody on call in {step.schedule}"
        if step.kind == StepKind.NOTIFY_USERS:
            return sorted(step.users.all(), key=lambda u: u.pk), "named in the policy"
        if step.kind == StepKind.NOTIFY_TEAM:
            assert step.team is not None
            members = team_members(step.team)
            if step.team_mode == TeamMode.ROUND_ROBIN and members:
                if step.team.pk not in self.cursors:
                    cursor = TeamCursor.objects.filter(team=step.team).first()
                    self.cursors[step.team.pk] = (cursor.last_user_id or 0) if cursor else 0
                last = self.cursors[step.team.pk]
                chosen = next((m for m in members if m.pk > last), members[0])
                self.cursors[step.team.pk] = chosen.pk
                return [chosen], f"{step.team}, round-robin"
            return members, f"everyone in {step.team}"
        return [], ""


def policy_preview(*, policy: EscalationPolicy, at: datetime, max_rows: int = MAX_ROWS) -> Preview:
    """Who `policy` notifies, when and on which channels, for a page triggered at `at`
    that nobody acknowledges. Reads only."""
    steps = policy_steps(policy.pk)
    walk = _Walk(policy, at)
    index, repeat = 0, 0
    while len(walk.rows) < max_rows:
        if index >= len(steps):
            people = fallback_people(policy)
            walk.notify(None, repeat, people, important=True, why="fallback", what="Fallback")
            break
        step = steps[index]
        label = str(step.get_kind_display())
        if step.kind == StepKind.WAIT:
            assert step.wait_minutes
            walk.add(step, repeat, f"Wait {step.wait_minutes} min")
            walk.now += timedelta(minutes=step.wait_minutes)
        elif step.kind in (StepKind.NOTIFY_ON_CALL, StepKind.NOTIFY_USERS, StepKind.NOTIFY_TEAM):
            people, why = walk.recipients(step)
            walk.notify(step, repeat, people, important=step.important, why=why, what=label)
        elif step.kind == StepKind.TIME_WINDOW:
            zone, whose = _window_zone(step, walk.now)
            opens = window_opens(step, walk.now, zone)
            if opens is not None:
                walk.add(
                    step, repeat, f"Outside the time window ({zone}, {whose}): wait until it opens"
                )
                walk.now = opens
            else:
                walk.add(step, repeat, f"Inside the time window ({zone}): go on")
        elif step.kind == StepKind.WEBHOOK:
            walk.add(step, repeat, f"Call the webhook {step.webhook_url}")
        elif step.kind == StepKind.RESOLVE:
            walk.add(step, repeat, "Resolve the page: nothing more happens")
            break
        elif step.kind == StepKind.REPEAT:
            assert step.repeat_times is not None
            if repeat < step.repeat_times:
                repeat += 1
                walk.add(
                    step,
                    repeat,
                    f"Repeat {repeat} of {step.repeat_times}: back to step {step.repeat_from}",
                )
                index = next(
                    (
                        i
                        for i, other in enumerate(steps)
                        if other.position >= (step.repeat_from or 0)
                    ),
                    0,
                )
                continue
            walk.add(step, repeat, f"Repeated {step.repeat_times} times: go on")
        index += 1
    else:
        return Preview(policy=policy, at=at, rows=walk.rows, truncated=True)
    return Preview(policy=policy, at=at, rows=walk.rows)
