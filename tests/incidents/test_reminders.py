"""Reminders with frozen time: once per due time, a missed sweep catches up, an update
posted in time means no reminder, the first-update and postmortem reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.models import Reminder
from incidents.notify.models import Notification
from incidents.services.lifecycle import incident_assign_role
from incidents.services.reminders import reminder_send, reminders_sweep
from incidents.services.updates import incident_update_post
from tests.core.factories import AgentFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _sweep_and_send(at: datetime) -> list[str]:
    with time_machine.travel(at, tick=False):
        ids = reminders_sweep()
        for rid in ids:
            reminder_send(reminder_id=rid)
    return sorted(Reminder.objects.filter(pk__in=ids).values_list("kind", flat=True))


def _told(user) -> list[str]:
    return sorted(
        Notification.objects.filter(
            recipient=user, key__startswith="incident-reminder/"
        ).values_list("subject", flat=True)
    )


@pytest.fixture
def sev1():
    commander, comms = AgentFactory.create(), AgentFactory.create()
    with time_machine.travel(T0, tick=False):
        incident = declare(commander, severity="SEV1", maintenance=True)
        incident_assign_role(
            incident=incident, role="communications_lead", user=comms, actor=commander
        )
    incident.refresh_from_db()
    return incident, commander, comms


def test_nothing_is_due_before_its_time(sev1):
    assert _sweep_and_send(T0 + timedelta(minutes=14, seconds=59)) == []


def test_first_update_reminder_goes_to_the_comms_lead_once(sev1):
    incident, commander, comms = sev1
    assert _sweep_and_send(T0 + timedelta(minutes=15)) == ["first_update"]
    assert _sweep_and_send(T0 + timedelta(minutes=16)) == []
    assert _told(comms) == [f"No public update yet on {incident.reference}: Hub API down"]
    assert _told(commander) == []


def test_update_due_reminds_commander_and_comms_lead_exactly_once(sev1):
    incident, commander, comms = sev1
    _sweep_and_send(T0 + timedelta(minutes=15))
    assert _sweep_and_send(T0 + timedelta(minutes=30)) == ["update_due"]
    assert _sweep_and_send(T0 + timedelta(minutes=31)) == []
    assert _sweep_and_send(T0 + timedelta(minutes=45)) == []
    subject = f"A status update is due on {incident.reference}: Hub API down"
    assert _told(commander) == [subject]
    assert subject in _told(comms)
    assert Reminder.objects.filter(kind="update_due").count() == 1


def test_a_missed_sweep_catches_up_and_sends_once(sev1):
    incident, commander, comms = sev1
    # No sweep ran for two hours: both reminders are made at once, then never again.
    assert _sweep_and_send(T0 + timedelta(hours=2)) == ["first_update", "update_due"]
    assert _sweep_and_send(T0 + timedelta(hours=2, minutes=1)) == []
    assert len(_told(commander)) == 1


def test_an_update_in_time_means_no_reminder_and_a_new_due_time(sev1):
    incident, commander, comms = sev1
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        incident_update_post(incident=incident, actor=commander, body="Investigating.")
    assert _sweep_and_send(T0 + timedelta(minutes=30)) == []
    # The next due time is 30 minutes after the update.
    assert _sweep_and_send(T0 + timedelta(minutes=40)) == ["update_due"]
    assert Reminder.objects.get().due_at == T0 + timedelta(minutes=40)


def test_a_sweep_made_before_an_update_sends_nothing_stale(sev1):
    incident, commander, comms = sev1
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        ids = reminders_sweep()
        incident_update_post(incident=incident, actor=commander, body="Just now.")
        told = [reminder_send(reminder_id=rid) for rid in ids]
    assert told == [False, False]  # first-update and update-due both passed meanwhile
    assert _told(commander) == []


def test_a_lost_send_is_handed_out_again_by_a_later_sweep(sev1):
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        made = reminders_sweep()
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        assert reminders_sweep() == []
    with time_machine.travel(T0 + timedelta(minutes=33), tick=False):
        assert sorted(reminders_sweep()) == sorted(made)


def test_postmortem_due_reminder_after_resolution(sev1):
    incident, commander, comms = sev1
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        incident_update_post(incident=incident, actor=commander, body="Fixed.", status="resolved")
    assert _sweep_and_send(T0 + timedelta(hours=24, minutes=19)) == []
    assert _sweep_and_send(T0 + timedelta(hours=24, minutes=20)) == ["postmortem_due"]
    assert _sweep_and_send(T0 + timedelta(hours=30)) == []
    assert _told(commander) == [f"The postmortem of {incident.reference} is due: Hub API down"]
