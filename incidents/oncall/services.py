"""Every write to on-call schedules: schedules, layers with their participants and
restrictions, overrides (and "cover my shift"), handoff notes.

Bad input is a ValidationError with field errors, raised before anything is written: a
rotation with no participants, a shift length of zero, an override that ends before it
starts, an unknown time zone, a restriction window with no length. Every change keeps
history (django-simple-history) with who made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.services import model_update
from incidents.oncall.models import (
    HandoffNote,
    Layer,
    LayerParticipant,
    LayerRestriction,
    Override,
    Schedule,
    ShiftKind,
)
from incidents.oncall.rotation import Rotation, RotationInvalid, Window
from incidents.oncall.selectors import handoff_find, shifts

if TYPE_CHECKING:
    from core.models import User

NOTE_FIELDS = ("active_incidents", "pending_issues", "ongoing_situations", "follow_ups")


def _errors_of(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [m for e in errs for m in e.messages] for field, errs in exc.error_dict.items()
        }
    return {"__all__": list(exc.messages)}


def _merge(errors: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    """Add the model's errors for fields not already explained by a clearer message."""
    for field, messages in more.items():
        errors.setdefault(field, messages)


def _is_agent(user: User) -> bool:
    return bool(user.is_staff and user.is_active)


# ---------------------------------------------------------------- schedules

SCHEDULE_FIELDS = ("name", "time_zone", "description", "backup_of")


def schedule_backup_check(schedule: Schedule | None, backup_of: Schedule | None) -> None:
    if backup_of is None:
        return
    if schedule is not None and schedule.pk is not None:
        if backup_of.pk == schedule.pk:
            raise ValidationError({"backup_of": "A schedule cannot be its own backup."})
        if backup_of.backup_of_id == schedule.pk:
            raise ValidationError(
                {"backup_of": f"{backup_of} is this schedule's backup: it cannot back it up too."}
            )


def schedule_create(
    *,
    name: str,
    time_zone: str = "UTC",
    description: str = "",
    backup_of: Schedule | None = None,
    actor: User | None = None,
) -> Schedule:
    schedule = Schedule(
        name=name.strip(), time_zone=time_zone, description=description, backup_of=backup_of
    )
    schedule.full_clean()
    schedule._history_user = actor  # type: ignore[attr-defined]
    schedule.save()
    return schedule


def schedule_update(
    *, schedule: Schedule, data: dict[str, Any], actor: User | None = None
) -> Schedule:
    unknown = set(data) - set(SCHEDULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown schedule fields: {sorted(unknown)}")
    if "backup_of" in data:
        schedule_backup_check(schedule, data["backup_of"])
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        schedule._history_user = actor  # type: ignore[attr-defined]
        schedule, _ = model_update(instance=schedule, fields=SCHEDULE_FIELDS, data=data)
    return schedule


# ---------------------------------------------------------------- layers


@dataclass(frozen=True)
class WindowSpec:
    """A restriction window: on `weekday` (0 = Monday) from `start` to `end`, wall-clock in
    the schedule's zone; `ends_next_day` when it crosses midnight."""

    weekday: int
    start: time
    end: time
    ends_next_day: bool = False


def layer_save(
    *,
    schedule: Schedule,
    layer: Layer | None = None,
    name: str,
    position: int,
    kind: str,
    starts_at: datetime,
    participants: Sequence[User],
    handoff_weekday: int = 0,
    handoff_time: time = time(9),
    shift_minutes: int | None = None,
    restrictions: Sequence[WindowSpec] = (),
    actor: User | None = None,
) -> Layer:
    """Create a layer, or change one, with its participants (in turn order) and its
    restriction windows as a whole."""
    errors: dict[str, list[str]] = {}
    if not participants:
        errors["participants"] = ["A rotation needs at least one participant."]
    elif len({p.pk for p in participants}) != len(participants):
        errors["participants"] = ["Each person takes one place in the rotation."]
    else:
        strangers = [p.display_name for p in participants if not _is_agent(p)]
        if strangers:
            errors["participants"] = [f"Only active agents go on call: {', '.join(strangers)}."]
    if kind == ShiftKind.CUSTOM and not shift_minutes:
        errors["shift_minutes"] = ["A shift must last longer than zero."]
    if kind != ShiftKind.CUSTOM:
        shift_minutes = None
    for index, spec in enumerate(restrictions, start=1):
        try:
            Window(spec.weekday, spec.start, spec.end, spec.ends_next_day).check()
        except RotationInvalid as exc:
            errors.setdefault("restrictions", []).append(f"Window {index}: {exc.message}")
    if starts_at is not None and timezone.is_naive(starts_at):
        errors["starts_at"] = ["The start needs a time zone."]

    data = {
        "name": name.strip(),
        "position": position,
        "kind": kind,
        "shift_minutes": shift_minutes,
        "handoff_weekday": handoff_weekday,
        "handoff_time": handoff_time,
        "starts_at": starts_at,
    }
    candidate = Layer(schedule=schedule, pk=layer.pk if layer else None, **data)
    candidate._state.adding = layer is None
    try:
        candidate.full_clean()
    except ValidationError as exc:
        _merge(errors, _errors_of(exc))
    if not errors:
        try:
            Rotation(
                name=name,
                participants=tuple(p.pk for p in participants),
                starts_at=starts_at,
                kind=kind,  # type: ignore[arg-type]
                handoff_weekday=handoff_weekday,
                handoff_time=handoff_time,
                shift_minutes=shift_minutes,
            ).check()
        except RotationInvalid as exc:
            errors[exc.field] = [exc.message]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if layer is None:
            layer = candidate
            layer._history_user = actor  # type: ignore[attr-defined]
            layer.save()
        else:
            layer = Layer.objects.select_for_update().get(pk=layer.pk, schedule=schedule)
            layer._history_user = actor  # type: ignore[attr-defined]
            layer, _ = model_update(instance=layer, fields=tuple(data), data=data)
        _participants_replace(layer=layer, participants=participants, actor=actor)
        _restrictions_replace(layer=layer, restrictions=restrictions, actor=actor)
    return layer


def _participants_replace(
    *, layer: Layer, participants: Sequence[User], actor: User | None
) -> None:
    current = list(layer.participants.order_by("position"))
    if [p.user_id for p in current] == [u.pk for u in participants]:
        return
    for row in current:
        row._history_user = actor  # type: ignore[attr-defined]
        row.delete()
    for position, user in enumerate(participants):
        row = LayerParticipant(layer=layer, user=user, position=position)
        row._history_user = actor  # type: ignore[attr-defined]
        row.save()


def _restrictions_replace(
    *, layer: Layer, restrictions: Sequence[WindowSpec], actor: User | None
) -> None:
    wanted = {(w.weekday, w.start, w.end, w.ends_next_day) for w in restrictions}
    for row in layer.restrictions.all():
        key = (row.weekday, row.start, row.end, row.ends_next_day)
        if key in wanted:
            wanted.discard(key)
            continue
        row._history_user = actor  # type: ignore[attr-defined]
        row.delete()
    for weekday, start, end, ends_next_day in sorted(wanted):
        row = LayerRestriction(
            layer=layer, weekday=weekday, start=start, end=end, ends_next_day=ends_next_day
        )
        row._history_user = actor  # type: ignore[attr-defined]
        row.save()


def layer_delete(*, layer: Layer, actor: User | None = None) -> None:
    with transaction.atomic():
        for row in [*layer.participants.all(), *layer.restrictions.all(), layer]:
            row._history_user = actor  # type: ignore[attr-defined]
            row.delete()


# ---------------------------------------------------------------- overrides


def override_create(
    *,
    schedule: Schedule,
    user: User,
    start: datetime,
    end: datetime,
    reason: str = "",
    actor: User | None = None,
) -> Override:
    """`user` is on call from `start` to `end` on `schedule`, over every layer."""
    errors: dict[str, list[str]] = {}
    if not _is_agent(user):
        errors["user"] = [f"{user.display_name} is not an active agent."]
    if start is not None and end is not None and end <= start:
        errors["end"] = ["The override must end after it starts."]
    if errors:
        raise ValidationError(errors)
    override = Override(
        schedule=schedule, user=user, start=start, end=end, reason=reason.strip(), created_by=actor
    )
    override.full_clean()
    override._history_user = actor  # type: ignore[attr-defined]
    override.save()
    return override


def override_delete(*, override: Override, actor: User | None = None) -> None:
    override._history_user = actor  # type: ignore[attr-defined]
    override.delete()


def shift_cover(
    *,
    schedule: Schedule,
    requester: User,
    colleague: User,
    start: datetime,
    end: datetime,
    reason: str = "",
    now: datetime | None = None,
) -> Override:
    """ "Cover my shift": `requester`, on call on `schedule` for the whole of [start, end),
    hands that time (all of a shift, or part of it) to `colleague` as an override."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if end <= start:
        errors["end"] = ["The time to cover must end after it starts."]
    elif end <= now:
        errors["end"] = ["This time is already over."]
    if colleague.pk == requester.pk:
        errors["colleague"] = ["Choose a colleague: you cannot cover your own shift."]
    elif not _is_agent(colleague):
        errors["colleague"] = [f"{colleague.display_name} is not an active agent."]
    if "end" not in errors:
        found = shifts(schedule, start, end)
        covered = (
            bool(found)
            and found[0].start == start
            and found[-1].end == end
            and all(s.user == requester for s in found)
            and all(a.end == b.start for a, b in zip(found, found[1:], strict=False))
        )
        if not covered:
            errors["start"] = [f"You are not on call on {schedule} for all of this time."]
    if errors:
        raise ValidationError(errors)
    return override_create(
        schedule=schedule,
        user=colleague,
        start=start,
        end=end,
        reason=reason.strip() or f"Covers {requester.display_name}'s shift.",
        actor=requester,
    )


# ---------------------------------------------------------------- handoff notes


def handoff_note_write(
    *,
    schedule: Schedule,
    handoff_at: datetime,
    author: User,
    active_incidents: str = "",
    pending_issues: str = "",
    ongoing_situations: str = "",
    follow_ups: str = "",
) -> HandoffNote:
    """The outgoing person's note for the handoff at `handoff_at` (written again, it
    replaces the text)."""
    texts = {
        "active_incidents": active_incidents.strip(),
        "pending_issues": pending_issues.strip(),
        "ongoing_situations": ongoing_situations.strip(),
        "follow_ups": follow_ups.strip(),
    }
    handoff = handoff_find(schedule, handoff_at)
    if handoff is None:
        raise ValidationError({"handoff_at": [f"{schedule} has no handoff at this time."]})
    if handoff.outgoing.pk != author.pk:
        raise ValidationError(
            {
                "handoff_at": [
                    f"Only {handoff.outgoing.display_name}, who hands over, writes this note."
                ]
            }
        )
    if not any(texts.values()):
        raise ValidationError(
            {field: ["Write at least one part of the note."] for field in NOTE_FIELDS}
        )
    with transaction.atomic():
        note = (
            HandoffNote.objects.select_for_update()
            .filter(schedule=schedule, handoff_at=handoff_at)
            .first()
        )
        if note is not None:
            note._history_user = author  # type: ignore[attr-defined]
            note, _ = model_update(
                instance=note,
                fields=(*NOTE_FIELDS, "written_at"),
                data={**texts, "written_at": timezone.now()},
            )
            return note
        note = HandoffNote(
            schedule=schedule,
            handoff_at=handoff_at,
            outgoing=handoff.outgoing,
            incoming=handoff.incoming,
            written_by=author,
            **texts,
        )
        note._history_user = author  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                note.save()
        except IntegrityError:  # written at the same moment elsewhere: keep that one
            return HandoffNote.objects.get(schedule=schedule, handoff_at=handoff_at)
    return note


def handoff_note_acknowledge(*, note: HandoffNote, user: User) -> HandoffNote:
    """The incoming person has read the note (once; again changes nothing)."""
    if note.incoming_id != user.pk:
        raise ValidationError({"note": ["Only the person taking over acknowledges this note."]})
    with transaction.atomic():
        note = HandoffNote.objects.select_for_update().get(pk=note.pk)
        if note.acknowledged_at is None:
            note._history_user = user  # type: ignore[attr-defined]
            note.acknowledged_at = timezone.now()
            note.save(update_fields=["acknowledged_at"])
    return note
