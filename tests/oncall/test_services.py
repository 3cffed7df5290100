"""Every write: bad input is a ValidationError with field errors and changes nothing;
good input is saved with its history."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError

from incidents.oncall.models import (
    HandoffNote,
    Layer,
    LayerParticipant,
    LayerRestriction,
    Override,
    Schedule,
)
from incidents.oncall.services import (
    WindowSpec,
    handoff_note_acknowledge,
    handoff_note_write,
    layer_delete,
    layer_save,
    override_create,
    schedule_create,
    schedule_update,
    shift_cover,
)
from tests.core.factories import AgentFactory, UserFactory
from tests.oncall.conftest import berlin
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

MODELS = (Schedule, Layer, LayerParticipant, LayerRestriction, Override, HandoffNote)


def snapshot() -> dict[str, int]:
    """How many rows, and history rows, of everything a write could touch."""
    counts = {m.__name__: m.objects.count() for m in MODELS}
    counts |= {f"history of {m.__name__}": m.history.count() for m in MODELS}
    return counts


def field_errors(caught: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return caught.value.message_dict


def test_a_schedule_with_an_unknown_time_zone_is_refused(db):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        schedule_create(name="Primary", time_zone="Europe/Atlantis")
    assert field_errors(caught) == {
        "time_zone": ["Europe/Atlantis is not an IANA time zone such as Europe/Paris."]
    }
    assert snapshot() == before


def test_changing_a_schedule_to_an_unknown_time_zone_changes_nothing(db):
    schedule = schedule_create(name="Primary", time_zone="Europe/Berlin")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        schedule_update(schedule=schedule, data={"time_zone": "Berlin"})
    assert field_errors(caught) == {
        "time_zone": ["Berlin is not an IANA time zone such as Europe/Paris."]
    }
    schedule.refresh_from_db()
    assert schedule.time_zone == "Europe/Berlin"
    assert snapshot() == before


def test_a_schedule_cannot_back_up_itself_or_its_own_backup(db):
    primary = schedule_create(name="Primary", time_zone="Europe/Berlin")
    backup = schedule_create(name="Backup", time_zone="Europe/Berlin", backup_of=primary)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        schedule_update(schedule=primary, data={"backup_of": primary})
    assert field_errors(caught) == {"backup_of": ["A schedule cannot be its own backup."]}
    with pytest.raises(ValidationError) as caught:
        schedule_update(schedule=primary, data={"backup_of": backup})
    assert field_errors(caught) == {
        "backup_of": ["Backup is this schedule's backup: it cannot back it up too."]
    }
    assert snapshot() == before


@pytest.fixture
def people(db):
    return [AgentFactory.create(first_name=n, last_name="X") for n in ("Ann", "Ben")]


def _layer(schedule, people, **changes):
    data = {
        "schedule": schedule,
        "name": "Base",
        "position": 0,
        "kind": "weekly",
        "starts_at": berlin("2026-01-05 09:00"),
        "participants": people,
    }
    return layer_save(**(data | changes))


# (case, changes to a valid layer, field errors)
BAD_LAYERS = [
    ("no participants", {"participants": []}, {"participants": ["A rotation needs at least one participant."]}),
    ("a custom shift of zero", {"kind": "custom", "shift_minutes": 0}, {"shift_minutes": ["A shift must last longer than zero."]}),
    ("a custom shift without a length", {"kind": "custom"}, {"shift_minutes": ["A shift must last longer than zero."]}),
    ("a custom shift of 5 minutes", {"kind": "custom", "shift_minutes": 5},
     {"shift_minutes": ["Ensure this value is greater than or equal to 15."]}),
    ("a restriction window of zero length", {"restrictions": [WindowSpec(0, time(9), time(9))]},
     {"restrictions": ["Window 1: The window has no length: its end is its start."]}),
    ("a restriction window ending before it starts", {"restrictions": [WindowSpec(0, time(9), time(17)), WindowSpec(1, time(17), time(9))]},
     {"restrictions": ["Window 2: The window ends before it starts; tick “ends next day” if it crosses midnight."]}),
    ("an unknown kind", {"kind": "monthly"}, {"kind": ["Value 'monthly' is not a valid choice."]}),
    ("a naive start", {"starts_at": berlin("2026-01-05 09:00").replace(tzinfo=None)},
     {"starts_at": ["The start needs a time zone."]}),
    ("an empty name", {"name": "  "}, {"name": ["This field cannot be blank."]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes", "errors"), BAD_LAYERS, ids=[c[0] for c in BAD_LAYERS])
def test_bad_layers_are_refused_and_nothing_changes(people, case, changes, errors):
    schedule = ScheduleFactory.create()
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        _layer(schedule, people, **changes)
    assert field_errors(caught) == errors
    assert snapshot() == before


def test_participants_must_be_active_agents_once_each(people):
    schedule = ScheduleFactory.create()
    member = UserFactory.create(first_name="Mo", last_name="Member")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        _layer(schedule, [people[0], member])
    assert field_errors(caught) == {"participants": ["Only active agents go on call: Mo Member."]}
    with pytest.raises(ValidationError) as caught:
        _layer(schedule, [people[0], people[0]])
    assert field_errors(caught) == {
        "participants": ["Each person takes one place in the rotation."]
    }
    assert snapshot() == before


def test_a_second_layer_at_the_same_position_is_refused(people):
    schedule = ScheduleFactory.create()
    _layer(schedule, people)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        _layer(schedule, people, name="Other")
    assert field_errors(caught) == {
        "__all__": ["Another layer of this schedule has this position."]
    }
    assert snapshot() == before


def test_a_layer_is_saved_and_changed_as_a_whole_with_history(people):
    schedule = ScheduleFactory.create()
    admin = AgentFactory.create(is_superuser=True)
    cat = AgentFactory.create()
    layer = _layer(
        schedule,
        people,
        restrictions=[WindowSpec(0, time(9), time(17)), WindowSpec(4, time(22), time(6), True)],
        actor=admin,
    )
    assert list(layer.participants.values_list("user", "position")) == [
        (people[0].pk, 0), (people[1].pk, 1),
    ]  # fmt: skip
    assert list(layer.restrictions.values_list("weekday", "start", "end", "ends_next_day")) == [
        (0, time(9), time(17), False), (4, time(22), time(6), True),
    ]  # fmt: skip
    layer = _layer(
        schedule,
        [cat, people[0]],
        layer=layer,
        kind="daily",
        handoff_time=time(8),
        restrictions=[WindowSpec(0, time(9), time(17))],
        actor=admin,
    )
    layer.refresh_from_db()
    assert (layer.kind, layer.handoff_time) == ("daily", time(8))
    assert list(layer.participants.values_list("user", "position")) == [
        (cat.pk, 0), (people[0].pk, 1),
    ]  # fmt: skip
    assert layer.restrictions.count() == 1
    assert [h.history_type for h in layer.history.order_by("history_id")] == ["+", "~"]
    assert {h.history_user for h in layer.history.all()} == {admin}
    assert LayerParticipant.history.filter(history_type="-").count() == 2
    assert LayerRestriction.history.filter(history_type="-").count() == 1
    layer_delete(layer=layer, actor=admin)
    assert not Layer.objects.exists()
    assert not LayerParticipant.objects.exists()


# (case, start, end, field errors)
BAD_OVERRIDES = [
    ("ending before it starts", "2026-01-07 12:00", "2026-01-07 11:00", {"end": ["The override must end after it starts."]}),
    ("ending when it starts", "2026-01-07 12:00", "2026-01-07 12:00", {"end": ["The override must end after it starts."]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "start", "end", "errors"), BAD_OVERRIDES, ids=[c[0] for c in BAD_OVERRIDES]
)
def test_bad_overrides_are_refused(people, case, start, end, errors):
    schedule = ScheduleFactory.create()
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        override_create(schedule=schedule, user=people[0], start=berlin(start), end=berlin(end))
    assert field_errors(caught) == errors
    assert snapshot() == before


def test_an_override_for_someone_who_is_not_an_agent_is_refused(db):
    schedule = ScheduleFactory.create()
    member = UserFactory.create(first_name="Mo", last_name="Member")
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        override_create(
            schedule=schedule, user=member, start=berlin("2026-01-07"), end=berlin("2026-01-08")
        )
    assert field_errors(caught) == {"user": ["Mo Member is not an active agent."]}
    assert snapshot() == before


# ---------------------------------------------------------------- cover my shift

NOW = "2026-01-13 12:00"


def test_covering_part_of_my_shift_makes_an_override_for_the_colleague(team):
    override = shift_cover(
        schedule=team.schedule,
        requester=team.ben,
        colleague=team.ann,
        start=berlin("2026-01-13 18:00"),
        end=berlin("2026-01-13 22:00"),
        now=berlin(NOW),
    )
    assert (override.user, override.start, override.end, override.created_by) == (
        team.ann, berlin("2026-01-13 18:00"), berlin("2026-01-13 22:00"), team.ben,
    )  # fmt: skip
    assert override.reason == "Covers Ben B's shift."
    assert override.history.get().history_user == team.ben


def test_covering_a_whole_shift_that_spans_a_layer_change(team):
    """Ben's Friday evening to Monday morning is one shift of the base layer."""
    override = shift_cover(
        schedule=team.schedule,
        requester=team.ben,
        colleague=team.cat,
        start=berlin("2026-01-16 17:00"),
        end=berlin("2026-01-19 09:00"),
        reason="Family weekend",
        now=berlin(NOW),
    )
    assert override.reason == "Family weekend"


# (case, who asks (team attribute), colleague, start, end, field errors)
BAD_COVERS = [
    ("time I am not on call", "ben", "ann", "2026-01-14 09:00", "2026-01-14 11:00",
     {"start": ["You are not on call on Primary for all of this time."]}),
    ("across someone else's override", "ben", "ann", "2026-01-14 18:00", "2026-01-14 22:00",
     {"start": ["You are not on call on Primary for all of this time."]}),
    ("myself", "ben", "ben", "2026-01-13 18:00", "2026-01-13 22:00",
     {"colleague": ["Choose a colleague: you cannot cover your own shift."]}),
    ("ending before it starts", "ben", "ann", "2026-01-13 22:00", "2026-01-13 18:00",
     {"end": ["The time to cover must end after it starts."]}),
    ("time that is over", "ben", "ann", "2026-01-12 18:00", "2026-01-12 22:00",
     {"end": ["This time is already over."]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "asks", "colleague", "start", "end", "errors"),
    BAD_COVERS,
    ids=[c[0] for c in BAD_COVERS],
)
def test_bad_covers_are_refused(team, case, asks, colleague, start, end, errors):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        shift_cover(
            schedule=team.schedule,
            requester=getattr(team, asks),
            colleague=getattr(team, colleague),
            start=berlin(start),
            end=berlin(end),
            now=berlin(NOW),
        )
    assert field_errors(caught) == errors
    assert snapshot() == before


# ---------------------------------------------------------------- handoff notes

HANDOFF = "2026-01-13 10:00"  # Ben hands over to Cat


def test_the_outgoing_person_writes_the_note_and_the_incoming_acknowledges_it(team):
    note = handoff_note_write(
        schedule=team.schedule,
        handoff_at=berlin(HANDOFF),
        author=team.ben,
        active_incidents="INC-4: database failover, monitoring.",
        follow_ups="Check replication lag at noon.",
    )
    assert (note.outgoing, note.incoming, note.written_by) == (team.ben, team.cat, team.ben)
    rewritten = handoff_note_write(
        schedule=team.schedule,
        handoff_at=berlin(HANDOFF),
        author=team.ben,
        pending_issues="SD-12 waits on the customer.",
    )
    assert rewritten.pk == note.pk
    assert (rewritten.active_incidents, rewritten.pending_issues) == (
        "", "SD-12 waits on the customer.",
    )  # fmt: skip
    assert HandoffNote.objects.count() == 1
    assert note.history.count() == 2
    with pytest.raises(ValidationError) as caught:
        handoff_note_acknowledge(note=note, user=team.ann)
    assert field_errors(caught) == {"note": ["Only the person taking over acknowledges this note."]}
    first = handoff_note_acknowledge(note=note, user=team.cat).acknowledged_at
    assert first is not None
    assert handoff_note_acknowledge(note=note, user=team.cat).acknowledged_at == first


# (case, author, instant, texts, field errors)
BAD_NOTES = [
    ("by someone who does not hand over", "cat", HANDOFF, {"follow_ups": "x"},
     {"handoff_at": ["Only Ben B, who hands over, writes this note."]}),
    ("for an instant with no handoff", "ben", "2026-01-13 11:00", {"follow_ups": "x"},
     {"handoff_at": ["Primary has no handoff at this time."]}),
    ("with nothing written", "ben", HANDOFF, {"follow_ups": "  "},
     {f: ["Write at least one part of the note."] for f in
      ("active_incidents", "pending_issues", "ongoing_situations", "follow_ups")}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "author", "instant", "texts", "errors"), BAD_NOTES, ids=[c[0] for c in BAD_NOTES]
)
def test_bad_handoff_notes_are_refused(team, case, author, instant, texts, errors):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        handoff_note_write(
            schedule=team.schedule,
            handoff_at=berlin(instant),
            author=getattr(team, author),
            **texts,
        )
    assert field_errors(caught) == errors
    assert snapshot() == before
