"""Policies that cannot page anyone as written are refused, by the service and by the
database, and nothing is saved."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents.paging.errors import PolicyInvalid
from incidents.paging.models import EscalationPolicy, EscalationStep
from incidents.paging.services.policies import policy_create, policy_steps_replace
from tests.core.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(db):
    return AgentFactory.create()


notify_at_2 = {"kind": "notify_users", "position": 2}


def notify(lead) -> dict[str, object]:
    return {"kind": "notify_users", "users": [lead]}


@pytest.mark.parametrize(
    ("steps", "code", "field"),
    [
        ([{"kind": "wait", "wait_minutes": 5}], "no_notify_step", None),
        ([], "no_notify_step", None),
        (["notify", {"kind": "repeat", "repeat_from": 1, "repeat_times": 0}], "min_value", "repeat_times"),
        (["notify", {"kind": "repeat", "repeat_from": 1, "repeat_times": 11}], "max_value", "repeat_times"),
        (["notify", {"kind": "repeat", "repeat_from": 2, "repeat_times": 2}], "invalid", "repeat_from"),
        ([{**notify_at_2, "users": "lead"}, {"kind": "repeat", "repeat_from": 1, "repeat_times": 2, "position": 3}], "repeat_from_missing", "repeat_from"),
        (["notify", {"kind": "repeat", "repeat_times": 2}], "invalid", "repeat_from"),
        (["notify", {"kind": "wait"}], "invalid", "wait_minutes"),
        (["notify", {"kind": "wait", "wait_minutes": 0}], "invalid", "wait_minutes"),
        (["notify", {"kind": "notify_on_call"}], "invalid", "schedule"),
        (["notify", {"kind": "notify_team"}], "invalid", "team"),
        (["notify", {"kind": "webhook"}], "invalid", "webhook_url"),
        (["notify", {"kind": "webhook", "webhook_url": "not a url"}], "invalid", "webhook_url"),
        (["notify", {"kind": "time_window", "window_starts": time(9)}], "invalid", "window_ends"),
        (["notify", {"kind": "time_window", "window_starts": time(9), "window_ends": time(9)}], "invalid", "window_ends"),
        (["notify", {"kind": "time_window", "window_starts": time(9), "window_ends": time(17), "window_weekdays": [0]}], "item_invalid", "window_weekdays"),
        (["notify", {"kind": "time_window", "window_starts": time(9), "window_ends": time(17), "window_time_zone": "Mars/Base"}], "invalid_time_zone", "window_time_zone"),
        ([{"kind": "notify_users", "users": []}], "required", "users"),
        (["notify", {"kind": "teleport"}], "invalid_choice", "kind"),
    ],
)  # fmt: skip
def test_a_policy_that_cannot_work_is_refused_and_nothing_is_saved(lead, steps, code, field):
    steps = [notify(lead) if s == "notify" else s for s in steps]
    steps = [{**s, "users": [lead]} if s.get("users") == "lead" else s for s in steps]
    with pytest.raises(PolicyInvalid) as error:
        policy_create(name="Broken", steps=steps)
    assert (error.value.code, error.value.field) == (code, field)
    assert EscalationPolicy.objects.count() == 0
    assert EscalationStep.objects.count() == 0


def test_a_good_policy_is_saved_with_its_steps_in_order_and_history(lead):
    policy = policy_create(
        name="Good",
        steps=[notify(lead), {"kind": "wait", "wait_minutes": 5},
               {"kind": "repeat", "repeat_from": 1, "repeat_times": 10}],
    )  # fmt: skip
    assert list(policy.steps.values_list("position", "kind")) == [
        (1, "notify_users"), (2, "wait"), (3, "repeat"),
    ]  # fmt: skip
    assert list(policy.steps.get(position=1).users.all()) == [lead]
    assert policy.history.count() == 1
    # Three steps created, and the people of the first set.
    assert sorted(EscalationStep.history.values_list("history_type", flat=True)) == [
        "+", "+", "+", "~",
    ]  # fmt: skip


def test_replacing_steps_checks_them_first(lead):
    policy = policy_create(name="Good", steps=[notify(lead)])
    with pytest.raises(PolicyInvalid):
        policy_steps_replace(policy=policy, steps=[{"kind": "wait", "wait_minutes": 1}])
    assert list(policy.steps.values_list("kind", flat=True)) == ["notify_users"]

    policy_steps_replace(policy=policy, steps=[{"kind": "wait", "wait_minutes": 1}, notify(lead)])
    assert list(policy.steps.values_list("kind", flat=True)) == ["wait", "notify_users"]


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"kind": "wait", "wait_minutes": 0}, "step_wait_positive"),
        ({"kind": "wait"}, "step_wait_positive"),
        ({"kind": "repeat", "repeat_from": 1, "repeat_times": 11}, "step_repeat_times_range"),
        ({"kind": "repeat", "repeat_from": 1, "repeat_times": 0}, "step_repeat_times_range"),
        ({"kind": "repeat", "repeat_from": 1}, "step_repeat_times_range"),
        ({"kind": "repeat", "repeat_times": 1}, "step_repeat_goes_back"),
        ({"kind": "repeat", "repeat_from": 9, "repeat_times": 1}, "step_repeat_goes_back"),
        ({"kind": "notify_on_call"}, "step_on_call_needs_schedule"),
        ({"kind": "notify_team"}, "step_team_needs_team"),
        ({"kind": "webhook"}, "step_webhook_url"),
        ({"kind": "time_window", "window_starts": time(9)}, "step_window_hours"),
        ({"kind": "teleport"}, "step_kind_valid"),
    ],
)
def test_the_database_refuses_steps_that_break_their_kind(lead, fields, constraint):
    policy = policy_create(name="Good", steps=[notify(lead)])
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        EscalationStep.objects.create(policy=policy, position=5, **fields)
    assert constraint in str(error.value)


def test_a_step_clean_names_the_field(lead):
    policy = policy_create(name="Good", steps=[notify(lead)])
    step = EscalationStep(policy=policy, position=2, kind="repeat", repeat_from=3, repeat_times=2)
    with pytest.raises(ValidationError) as error:
        step.clean()
    assert set(error.value.message_dict) == {"repeat_from"}
