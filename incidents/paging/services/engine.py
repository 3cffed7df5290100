"""The escalation engine: runs a triggered page's steps, each exactly once.

`Page.step_index` is the next step to run (in position order) and `Page.repeat` how many
times the policy's repeat step has sent the page back; `next_escalation_at` says when the
step is due. Running a step starts with a conditional UPDATE that moves that pointer:

    UPDATE paging_page SET step_index = …, repeat = …, next_escalation_at = …
    WHERE id = %s AND state = 'triggered' AND step_index = s AND repeat = r
      AND next_escalation_at <= now

and the step's effects (notifications, a webhook, a timeline row) are written in the same
transaction only when that UPDATE changed the row. Whoever runs it (the task scheduled for
the end of a wait, the sweeper's task, a second copy of either, both at once), one of them
changes the row and the others find it moved, so each step runs once per (page, step,
repeat); a worker killed half-way commits nothing, and the page is due again for the next.
The notification keys (`page:{id}:step:{s}:repeat:{r}:user:{uid}`) are the last guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from core.models import User
from incidents.paging.links import page_actions
from incidents.paging.models import (
    EscalationPolicy,
    EscalationStep,
    Importance,
    OnCallWhen,
    Page,
    PageEvent,
    PageEventKind,
    PageState,
    StepKind,
    TeamCursor,
    TeamMode,
    Via,
)
from incidents.paging.services import dispatch
from routing.models import AgentProfile, Team

logger = logging.getLogger(__name__)

SOURCE = "page"
# A page never runs more steps than this in one go (a policy of only non-waiting steps that
# repeats 10 times still fits); the rest is due at once and taken by the next task.
MAX_STEPS_AT_ONCE = 200


def policy_steps(policy_id: int) -> list[EscalationStep]:
    return list(
        EscalationStep.objects.filter(policy_id=policy_id)
        .select_related("schedule", "team")
        .prefetch_related("users")
        .order_by("position", "id")
    )


def page_advance(*, page_id: int) -> int:
    """Run what is due on a page: its escalation steps (triggered) or its reminder
    (acknowledged). Returns how many steps this call ran. Idempotent, safe beside any
    other call for the same page."""
    page = Page.objects.filter(pk=page_id).only("state").first()
    if page is None:
        return 0
    if page.state == PageState.ACKNOWLEDGED:
        from incidents.paging.services.pages import page_remind

        page_remind(page_id=page_id)
        # A reminder nobody confirmed put the page back to triggered: go on at once.
    return page_escalate(page_id=page_id)


def page_escalate(*, page_id: int) -> int:
    """Run the page's due steps one after the other, each in its own transaction (a
    savepoint when called inside one), until a wait, the end, or someone acknowledged."""
    ran = 0
    steps: list[EscalationStep] | None = None
    while ran < MAX_STEPS_AT_ONCE:
        with transaction.atomic():
            page = (
                Page.objects.filter(
                    pk=page_id,
                    state=PageState.TRIGGERED,
                    next_escalation_at__lte=timezone.now(),
                )
                .select_related("policy")
                .first()
            )
            if page is None or page.policy_id is None:
                break
            if steps is None:
                steps = policy_steps(page.policy_id)
            outcome = _run_step(page, steps)
        if outcome is None:
            break
        ran += 1
        if outcome.next_at is None or outcome.next_at > timezone.now():
            break
    return ran


@dataclass
class Move:
    """Where the pointer goes after a step, and what the step does once it has it."""

    step_index: int
    repeat: int
    next_at: datetime | None
    done: bool = False
    effects: list[Any] = field(default_factory=list)


def _run_step(page: Page, steps: list[EscalationStep]) -> Move | None:
    """Claim the page's current step with the conditional UPDATE and run it; None when
    someone else ran it first (or the page changed)."""
    now = timezone.now()
    s, r = page.step_index, page.repeat
    move = _plan(page, steps, now)
    claimed = Page.objects.filter(
        pk=page.pk,
        state=PageState.TRIGGERED,
        step_index=s,
        repeat=r,
        next_escalation_at__lte=now,
    ).update(
        step_index=move.step_index,
        repeat=move.repeat,
        next_escalation_at=move.next_at,
        escalation_done=move.done,
        dispatched_until=None,
        updated_at=now,
    )
    if not claimed:
        return None
    for effect in move.effects:
        effect()
    if move.next_at is not None and move.next_at > now:
        # The end of a wait (or a time window opening): a task with that eta; the sweeper
        # catches it if the message is lost.
        page_id, eta = page.pk, move.next_at
        transaction.on_commit(lambda: dispatch.escalate_at(page_id=page_id, eta=eta), robust=True)
    return move


def _plan(page: Page, steps: list[EscalationStep], now: datetime) -> Move:
    s, r = page.step_index, page.repeat
    if s >= len(steps):
        return Move(s, r, None, done=True, effects=[lambda: _fallback(page, now)])
    step = steps[s]
    after = Move(s + 1, r, now)
    kind = step.kind
    if kind == StepKind.WAIT:
        assert step.wait_minutes
        until = now + timedelta(minutes=step.wait_minutes)
        after.next_at = until
        after.effects.append(
            lambda: _log(page, PageEventKind.WAITING, step=step, repeat=r, until=until.isoformat())
        )
    elif kind in (StepKind.NOTIFY_ON_CALL, StepKind.NOTIFY_USERS, StepKind.NOTIFY_TEAM):
        after.effects.append(lambda: _notify_step(page, step, s, r, now))
    elif kind == StepKind.TIME_WINDOW:
        zone, whose = _window_zone(step, now)
        opens = window_opens(step, now, zone)
        if opens is not None:
            # Outside the window: the same step, due again when it opens.
            stay = Move(s, r, opens)
            stay.effects.append(
                lambda: _log(
                    page,
                    PageEventKind.OUTSIDE_WINDOW,
                    step=step,
                    repeat=r,
                    opens=opens.isoformat(),
                    time_zone=str(zone),
                    whose=whose,
                )  # fmt: skip
            )
            return stay
    elif kind == StepKind.WEBHOOK:
        after.effects.append(lambda: _webhook_step(page, step, s, r))
    elif kind == StepKind.RESOLVE:
        after.next_at = None

        def resolve() -> None:
            from incidents.paging.services.pages import page_resolve

            page_resolve(page=page, actor=None, via=Via.SYSTEM, reason="Resolved by its policy.")

        after.effects.append(resolve)
    elif kind == StepKind.REPEAT:
        assert step.repeat_times is not None
        if r < step.repeat_times:
            back = next(
                (i for i, other in enumerate(steps) if other.position >= (step.repeat_from or 0)),
                0,
            )
            again = Move(back, r + 1, now)
            again.effects.append(
                lambda: _log(
                    page,
                    PageEventKind.REPEATED,
                    step=step,
                    repeat=r + 1,
                    of=step.repeat_times,
                    back_to=step.repeat_from,
                )  # fmt: skip
            )
            return again
    return after


def _log(page: Page, kind: str, *, step: EscalationStep | None = None, **detail: Any) -> None:
    if step is not None:
        detail = {"position": step.position, "step_kind": step.kind, **detail}
    PageEvent.objects.create(page=page, kind=kind, via=Via.SYSTEM, detail=detail)


# ---------------------------------------------------------------- notifying


def _subject(page: Page) -> str:
    return f"[{page.get_severity_display()}] {page.title}"


def _body(page: Page) -> str:
    lines = [page.title, ""]
    if page.details:
        lines += [page.details, ""]
    lines.append(f"Page {page.pk} · {page.get_cause_display()} · {page.get_severity_display()}")
    if page.ticket_id:
        lines.append(f"Ticket {page.ticket_id}")
    return "\n".join(lines)


def notify_people(
    page: Page,
    people: list[User],
    *,
    key_prefix: str,
    importance: str,
    kind: str = PageEventKind.NOTIFIED,
    detail: dict[str, Any] | None = None,
    subject: str | None = None,
) -> list[int]:
    """One notification per person (idempotent on its key), and a timeline row for each
    that is new. Returns the notification ids."""
    from incidents.notify.services import notify

    ids: list[int] = []
    seen: set[int] = set()
    for person in people:
        if person.pk in seen or not person.is_active:
            continue
        seen.add(person.pk)
        notification = notify(
            recipient=person,
            subject=subject or _subject(page),
            body=_body(page),
            key=f"{key_prefix}:user:{person.pk}",
            importance=importance,
            source=SOURCE,
            source_id=page.pk,
            actions=page_actions(page_id=page.pk, user_id=person.pk),
        )
        ids.append(notification.pk)
        PageEvent.objects.create(
            page=page,
            kind=kind,
            via=Via.SYSTEM,
            detail={
                **(detail or {}),
                "user_id": person.pk,
                "user": str(person),
                "notification_id": notification.pk,
                "importance": importance,
            },
        )
    return ids


def _notify_step(page: Page, step: EscalationStep, s: int, r: int, now: datetime) -> None:
    people, why = step_recipients(step, now)
    importance = Importance.IMPORTANT if step.important else Importance.DEFAULT
    detail = {"position": step.position, "step_kind": step.kind, "repeat": r, "why": why}
    if not people:
        PageEvent.objects.create(page=page, kind=PageEventKind.NOBODY, detail=detail)
        return
    notify_people(
        page, people, key_prefix=f"page:{page.pk}:step:{s}:repeat:{r}", importance=importance,
        detail=detail,
    )  # fmt: skip


def step_recipients(step: EscalationStep, now: datetime) -> tuple[list[User], str]:
    """Who a notify step pages at `now`, and why (for the timeline and the policy test).
    Round-robin moves the team's cursor: call it only when the step really runs."""
    if step.kind == StepKind.NOTIFY_ON_CALL:
        from incidents.oncall.selectors import next_on_call, on_call

        assert step.schedule is not None
        person = on_call(step.schedule, now)
        if person is not None:
            return [person], f"on call now in {step.schedule}"
        if step.on_call_when == OnCallWhen.NEXT:
            upcoming = next_on_call(step.schedule, now)
            if upcoming is not None:
                person, starts = upcoming
                return [person], f"next on call in {step.schedule} (from {starts.isoformat()})"
        return [], f"nobody on call in {step.schedule}"
    if step.kind == StepKind.NOTIFY_USERS:
        return sorted(step.users.all(), key=lambda u: u.pk), "named in the policy"
    if step.kind == StepKind.NOTIFY_TEAM:
        assert step.team is not None
        members = team_members(step.team)
        if step.team_mode == TeamMode.ROUND_ROBIN and members:
            return [_round_robin(step.team, members)], f"{step.team}, round-robin"
        return members, f"everyone in {step.team}"
    return [], ""


def team_members(team: Team) -> list[User]:
    return list(
        User.objects.filter(agent_profile__teams=team, is_active=True).order_by("id").distinct()
    )


def _round_robin(team: Team, members: list[User]) -> User:
    """The member after the one paged last (by id, wrapping round), under the cursor's lock."""
    cursor, _ = TeamCursor.objects.get_or_create(team=team)
    cursor = TeamCursor.objects.select_for_update().get(pk=cursor.pk)
    last = cursor.last_user_id or 0
    chosen = next((m for m in members if m.pk > last), members[0])
    cursor.last_user = chosen
    cursor.updated_at = timezone.now()
    cursor.save(update_fields=["last_user", "updated_at"])
    return chosen


def _fallback(page: Page, now: datetime) -> None:
    policy = page.policy
    assert policy is not None
    people = fallback_people(policy)
    if not people:
        PageEvent.objects.create(
            page=page, kind=PageEventKind.ESCALATED, detail={"fallback": "none"}
        )
        return
    notify_people(
        page, people, key_prefix=f"page:{page.pk}:fallback", importance=Importance.IMPORTANT,
        kind=PageEventKind.FALLBACK, detail={"repeat": page.repeat},
    )  # fmt: skip


def fallback_people(policy: EscalationPolicy) -> list[User]:
    people = list(policy.fallback_users.filter(is_active=True).order_by("id"))
    if policy.fallback_team_id is not None:
        assert policy.fallback_team is not None
        known = {p.pk for p in people}
        people += [m for m in team_members(policy.fallback_team) if m.pk not in known]
    return people


def _webhook_step(page: Page, step: EscalationStep, s: int, r: int) -> None:
    from incidents.notify.services import send_webhook

    payload = {
        "event": "page.escalated",
        "subject": _subject(page),
        "page": {
            "id": page.pk,
            "title": page.title,
            "details": page.details,
            "severity": page.severity,
            "cause": page.cause,
            "state": page.state,
            "ticket_id": page.ticket_id,
            "community_id": page.community_id,
            "dedup_key": page.dedup_key,
        },
        "step": {"position": step.position, "repeat": r},
        "actions": page_actions(page_id=page.pk, user_id=None),
    }
    delivery = send_webhook(
        url=step.webhook_url,
        payload=payload,
        key=f"page:{page.pk}:step:{s}:repeat:{r}:webhook",
        secret=step.webhook_secret,
        source=SOURCE,
        source_id=page.pk,
    )
    PageEvent.objects.create(
        page=page,
        kind=PageEventKind.WEBHOOK,
        detail={
            "position": step.position,
            "repeat": r,
            "url": step.webhook_url,
            "delivery_id": delivery.pk,
        },
    )


# ---------------------------------------------------------------- time windows


def _window_zone(step: EscalationStep, now: datetime) -> tuple[ZoneInfo, str]:
    """The time zone a window is read in: the on-call person's own (their agent profile),
    else the schedule's, else the step's."""
    if step.schedule is not None:
        from incidents.oncall.selectors import on_call

        person = on_call(step.schedule, now)
        if person is not None:
            profile = AgentProfile.objects.filter(user=person).only("time_zone").first()
            if profile is not None and profile.time_zone:
                return ZoneInfo(profile.time_zone), str(person)
        return ZoneInfo(step.schedule.time_zone), str(step.schedule)
    return ZoneInfo(step.window_time_zone or "UTC"), "policy"


def _in_window(step: EscalationStep, local: datetime) -> bool:
    starts, ends = step.window_starts, step.window_ends
    assert starts is not None
    assert ends is not None
    days = set(step.window_weekdays) or set(range(1, 8))
    t = local.time()
    if starts < ends:
        return local.isoweekday() in days and starts <= t < ends
    # Past midnight: the evening part belongs to its own day, the morning to the day before.
    yesterday = (local.date() - timedelta(days=1)).isoweekday()
    return (t >= starts and local.isoweekday() in days) or (t < ends and yesterday in days)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of a local wall time, by the schedules' rule: a time skipped by a spring
    change is the moment the clocks jump; a time that happens twice, its first occurrence."""
    from incidents.oncall.rotation import local_to_utc

    return local_to_utc(datetime.combine(day, at), zone)


def window_opens(step: EscalationStep, now: datetime, zone: ZoneInfo) -> datetime | None:
    """None when `now` is inside the step's window; otherwise when it next opens (UTC)."""
    local = now.astimezone(zone)
    if _in_window(step, local):
        return None
    assert step.window_starts is not None
    days = set(step.window_weekdays) or set(range(1, 8))
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.isoweekday() not in days:
            continue
        opens = _local(day, step.window_starts, zone)
        if opens > now:
            return opens
    return None  # pragma: no cover - a weekday set always has a next day within a week
