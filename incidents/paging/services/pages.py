"""Pages: triggering (with deduplication and maintenance windows) and every action on them.

Each action locks the page, checks its state, writes the change and a timeline row that
says who did it and from where (`via`), and is idempotent: acknowledging an acknowledged
page or resolving a resolved one changes nothing and records nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from communities.models import Community
from core.errors import ApplicationError
from core.models import User
from incidents.paging.errors import PageNotTriggered, PageResolved
from incidents.paging.models import (
    CauseKind,
    EscalationPolicy,
    Importance,
    MaintenanceWindow,
    Page,
    PageEvent,
    PageEventKind,
    PageState,
    Via,
)
from incidents.paging.services import dispatch
from incidents.paging.services.engine import SOURCE, notify_people, page_escalate
from incidents.paging.services.policies import policy_for
from tickets.models import Severity, Ticket

MAX_SILENCE_MINUTES = 24 * 60
DEDUP_CONSTRAINT = "page_dedup_key_open_once"


def _invalid(message: str, field: str, code: str = "invalid") -> ApplicationError:
    error = ApplicationError(message, field=field)
    error.code = code
    return error


def _event(page: Page, kind: str, *, actor: User | None, via: str, **detail: Any) -> None:
    PageEvent.objects.create(page=page, kind=kind, actor=actor, via=via, detail=detail)


def maintenance_covering(
    *, community_id: int | None, service: str, at: datetime
) -> MaintenanceWindow | None:
    scope = Q()
    if community_id is not None:
        scope |= Q(community_id=community_id)
    if service:
        scope |= Q(service=service)
    if not scope:
        return None
    return (
        MaintenanceWindow.objects.filter(scope, starts_at__lte=at, ends_at__gt=at)
        .order_by("ends_at")
        .first()
    )


def _open_page(dedup_key: str) -> Page | None:
    return (
        Page.objects.select_for_update()
        .filter(dedup_key=dedup_key)
        .exclude(state=PageState.RESOLVED)
        .first()
    )


def _attach(page: Page, *, actor: User | None, via: str, title: str, now: datetime) -> Page:
    Page.objects.filter(pk=page.pk).update(
        trigger_count=F("trigger_count") + 1, last_triggered_at=now, updated_at=now
    )
    page.refresh_from_db(fields=["trigger_count", "last_triggered_at", "updated_at"])
    _event(
        page, PageEventKind.RETRIGGERED, actor=actor, via=via, title=title,
        trigger_count=page.trigger_count,
    )  # fmt: skip
    return page


def page_trigger(
    *,
    cause: str,
    dedup_key: str,
    title: str,
    details: str = "",
    severity: str,
    via: str,
    ticket: Ticket | None = None,
    community: Community | None = None,
    service: str = "",
    source_data: dict[str, Any] | None = None,
    actor: User | None = None,
    policy: EscalationPolicy | None = None,
) -> tuple[Page, bool]:
    """Open a page, or attach to the open page with the same key; returns (page, created).
    A new page runs its first steps at once (up to the first wait)."""
    title = (title or "").strip()
    if cause not in CauseKind.values:
        raise _invalid(f"Unknown cause {cause!r}.", "cause")
    if severity not in Severity.values:
        raise _invalid(f"Unknown severity {severity!r}.", "severity")
    if not title:
        raise _invalid("A page needs a title.", "title", "required")
    if not dedup_key or len(dedup_key) > 255:
        raise _invalid("A deduplication key of 1 to 255 characters.", "dedup_key")
    title = title[:300]
    now = timezone.now()
    if community is None and ticket is not None:
        community_id: int | None = ticket.community_id
    else:
        community_id = community.pk if community is not None else None
    with transaction.atomic():
        existing = _open_page(dedup_key)
        if existing is not None:
            return _attach(existing, actor=actor, via=via, title=title, now=now), False
        if policy is None:
            policy = policy_for(cause=cause, severity=severity, community=community_id)
        window = maintenance_covering(community_id=community_id, service=service, at=now)
        escalates = policy is not None and window is None
        try:
            with transaction.atomic():
                page = Page.objects.create(
                    cause=cause, dedup_key=dedup_key, title=title, details=details,
                    severity=severity, service=service, ticket=ticket,
                    community_id=community_id, policy=policy,
                    next_escalation_at=now if escalates else None,
                    escalation_done=not escalates, in_maintenance=window is not None,
                    source_data=source_data or {}, last_triggered_at=now, created_at=now,
                    updated_at=now,
                )  # fmt: skip
        except IntegrityError as exc:
            if DEDUP_CONSTRAINT not in str(exc):
                raise
            # Someone opened it first, in a transaction that has committed now.
            existing = _open_page(dedup_key)
            if existing is None:
                raise
            return _attach(existing, actor=actor, via=via, title=title, now=now), False
        _event(
            page, PageEventKind.TRIGGERED, actor=actor, via=via, cause=cause,
            severity=severity, dedup_key=dedup_key,
            policy=policy.name if policy is not None else None,
        )  # fmt: skip
        if window is not None:
            _event(
                page, PageEventKind.MAINTENANCE, actor=None, via=Via.SYSTEM,
                window_id=window.pk, reason=window.reason, ends_at=window.ends_at.isoformat(),
            )  # fmt: skip
        elif policy is None:
            _event(page, PageEventKind.UNROUTED, actor=None, via=Via.SYSTEM, cause=cause)
    if escalates:
        page_escalate(page_id=page.pk)
        page.refresh_from_db()
    return page, True


def trigger_page(
    *,
    cause: str,
    dedup_key: str,
    title: str,
    details: str,
    severity: str,
    via: str,
    ticket: Ticket | None = None,
    community: Community | None = None,
    **extra: Any,
) -> Page:
    """Open a page (see page_trigger); a second trigger with the same key while the page
    is open attaches to it and notifies nobody."""
    page, _ = page_trigger(
        cause=cause, dedup_key=dedup_key, title=title, details=details, severity=severity,
        via=via, ticket=ticket, community=community, **extra,
    )  # fmt: skip
    return page


def open_page_for_incident(
    *,
    incident_id: int,
    title: str,
    details: str = "",
    severity: str,
    community: Community | None = None,
    ticket: Ticket | None = None,
    actor: User | None = None,
    via: str = Via.SYSTEM,
) -> Page:
    """The page of a declared incident (one open page per incident)."""
    page, _ = page_trigger(
        cause=CauseKind.INCIDENT, dedup_key=f"incident:{incident_id}", title=title,
        details=details, severity=severity, community=community, ticket=ticket, actor=actor,
        via=via,
    )  # fmt: skip
    return page


# ---------------------------------------------------------------- actions


def _locked(page: Page | int) -> Page:
    page_id = page if isinstance(page, int) else page.pk
    return Page.objects.select_for_update(of=("self",)).select_related("policy").get(pk=page_id)


def _cancel_pending(page: Page) -> int:
    from incidents.notify.services import cancel_pending

    return cancel_pending(source=SOURCE, source_id=page.pk)


def _reminder_after(page: Page, now: datetime) -> datetime | None:
    if page.policy is None or not page.policy.reminder_minutes:
        return None
    return now + timedelta(minutes=page.policy.reminder_minutes)


@transaction.atomic
def page_acknowledge(*, page: Page | int, actor: User | None, via: str) -> Page:
    """Stop the escalation (and the notifications not sent yet). Acknowledging again
    changes nothing, except that it confirms a reminder."""
    page = _locked(page)
    now = timezone.now()
    if page.state == PageState.RESOLVED:
        raise PageResolved("The page is resolved already.")
    if page.state == PageState.ACKNOWLEDGED:
        if page.reminded_at is not None:
            page.reminded_at = None
            page.remind_at = _reminder_after(page, now)
            page.dispatched_until = None
            page.updated_at = now
            page.save(update_fields=["reminded_at", "remind_at", "dispatched_until", "updated_at"])
            _event(page, PageEventKind.CONFIRMED, actor=actor, via=via)
        return page
    page.state = PageState.ACKNOWLEDGED
    page.acknowledged_by = actor
    page.acknowledged_at = now
    page.next_escalation_at = None
    page.dispatched_until = None
    page.remind_at = _reminder_after(page, now)
    page.reminded_at = None
    page.updated_at = now
    page.save()
    cancelled = _cancel_pending(page)
    _event(
        page, PageEventKind.ACKNOWLEDGED, actor=actor, via=via,
        step_index=page.step_index, repeat=page.repeat, cancelled_deliveries=cancelled,
    )  # fmt: skip
    if page.remind_at is not None:
        page_id, eta = page.pk, page.remind_at
        transaction.on_commit(lambda: dispatch.escalate_at(page_id=page_id, eta=eta), robust=True)
    return page


@transaction.atomic
def page_unacknowledge(*, page: Page | int, actor: User | None, via: str, reason: str = "") -> Page:
    """Back to triggered where the escalation stood: its next step is due now."""
    page = _locked(page)
    now = timezone.now()
    if page.state == PageState.RESOLVED:
        raise PageResolved("The page is resolved already.")
    if page.state == PageState.TRIGGERED:
        return page
    page.state = PageState.TRIGGERED
    page.acknowledged_by = None
    page.acknowledged_at = None
    page.remind_at = None
    page.reminded_at = None
    page.dispatched_until = None
    page.next_escalation_at = None if page.escalation_done else now
    page.updated_at = now
    page.save()
    detail: dict[str, Any] = {"step_index": page.step_index, "repeat": page.repeat}
    if reason:
        detail["reason"] = reason
    _event(page, PageEventKind.UNACKNOWLEDGED, actor=actor, via=via, **detail)
    if page.next_escalation_at is not None:
        page_id = page.pk
        transaction.on_commit(lambda: dispatch.escalate_at(page_id=page_id), robust=True)
    return page


@transaction.atomic
def page_resolve(*, page: Page | int, actor: User | None, via: str, reason: str = "") -> Page:
    """Close the page; resolving a resolved page changes nothing."""
    page = _locked(page)
    if page.state == PageState.RESOLVED:
        return page
    now = timezone.now()
    page.state = PageState.RESOLVED
    page.resolved_by = actor
    page.resolved_at = now
    page.next_escalation_at = None
    page.dispatched_until = None
    page.remind_at = None
    page.reminded_at = None
    page.updated_at = now
    page.save()
    cancelled = _cancel_pending(page)
    detail: dict[str, Any] = {"cancelled_deliveries": cancelled}
    if reason:
        detail["reason"] = reason
    _event(page, PageEventKind.RESOLVED, actor=actor, via=via, **detail)
    return page


def page_resolve_by_key(
    *, dedup_key: str, actor: User | None, via: str, reason: str = ""
) -> Page | None:
    """Resolve the open page with this key, if there is one (an alert that cleared)."""
    page = Page.objects.filter(dedup_key=dedup_key).exclude(state=PageState.RESOLVED).first()
    if page is None:
        return None
    return page_resolve(page=page, actor=actor, via=via, reason=reason)


@transaction.atomic
def page_silence(*, page: Page | int, minutes: int, actor: User | None, via: str) -> Page:
    """Hold the escalation for `minutes`: the next step runs no earlier than then."""
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_SILENCE_MINUTES:
        raise _invalid(
            f"Silence for 1 to {MAX_SILENCE_MINUTES} minutes.", "minutes", "out_of_range"
        )
    page = _locked(page)
    if page.state == PageState.RESOLVED:
        raise PageResolved("The page is resolved already.")
    if page.state != PageState.TRIGGERED:
        raise PageNotTriggered("Only a triggered page can be silenced; this one is acknowledged.")
    now = timezone.now()
    until = now + timedelta(minutes=minutes)
    page.silenced_until = until
    if page.next_escalation_at is not None:
        page.next_escalation_at = max(page.next_escalation_at, until)
    page.dispatched_until = None
    page.updated_at = now
    page.save(
        update_fields=["silenced_until", "next_escalation_at", "dispatched_until", "updated_at"]
    )
    _event(
        page, PageEventKind.SILENCED, actor=actor, via=via, minutes=minutes,
        until=until.isoformat(),
    )  # fmt: skip
    if page.next_escalation_at is not None:
        page_id, eta = page.pk, page.next_escalation_at
        transaction.on_commit(lambda: dispatch.escalate_at(page_id=page_id, eta=eta), robust=True)
    return page


def page_remind(*, page_id: int) -> bool:
    """An acknowledged page still open at its reminder time: remind whoever acknowledged
    it; a reminder not confirmed (acknowledged again) in time puts the page back to
    triggered. True when this call did something."""
    now = timezone.now()
    with transaction.atomic():
        page = (
            Page.objects.select_for_update(of=("self",))
            .select_related("policy", "acknowledged_by")
            .filter(pk=page_id, state=PageState.ACKNOWLEDGED, remind_at__lte=now)
            .first()
        )
        if page is None:
            return False
        if page.reminded_at is not None:
            page_unacknowledge(
                page=page, actor=None, via=Via.SYSTEM, reason="The reminder was not confirmed."
            )
            return True
        assert page.policy is not None
        page.reminded_at = now
        page.reminders += 1
        page.remind_at = now + timedelta(minutes=page.policy.reminder_confirm_minutes)
        page.dispatched_until = None
        page.updated_at = now
        page.save(
            update_fields=[
                "reminded_at",
                "reminders",
                "remind_at",
                "dispatched_until",
                "updated_at",
            ]
        )
        people = [page.acknowledged_by] if page.acknowledged_by is not None else []
        if people:
            notify_people(
                page, people, key_prefix=f"page:{page.pk}:reminder:{page.reminders}",
                importance=Importance.IMPORTANT, kind=PageEventKind.REMINDED,
                detail={"reminder": page.reminders, "confirm_by": page.remind_at.isoformat()},
                subject=f"Still on it? {page.title}",
            )  # fmt: skip
        else:
            _event(page, PageEventKind.REMINDED, actor=None, via=Via.SYSTEM, recipients=0)
        page_id_, eta = page.pk, page.remind_at
        transaction.on_commit(lambda: dispatch.escalate_at(page_id=page_id_, eta=eta), robust=True)
    return True


# ---------------------------------------------------------------- maintenance


def maintenance_window_create(
    *,
    starts_at: datetime,
    ends_at: datetime,
    community: Community | None = None,
    service: str = "",
    reason: str = "",
    created_by: User | None = None,
) -> MaintenanceWindow:
    if ends_at <= starts_at:
        raise _invalid("A maintenance window ends after it starts.", "ends_at", "ends_before_start")
    if community is None and not service.strip():
        raise _invalid(
            "Name the community or the service under maintenance.", "service", "no_scope"
        )
    return MaintenanceWindow.objects.create(
        community=community, service=service.strip(), starts_at=starts_at, ends_at=ends_at,
        reason=reason, created_by=created_by,
    )  # fmt: skip
