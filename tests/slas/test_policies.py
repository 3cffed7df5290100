"""SLA policies through their services: bad input is a field error and nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from slas.models import SLAPolicy
from slas.services.policies import sla_policy_create, sla_policy_update
from tests.core.factories import AgentFactory
from tests.slas.factories import SLAPolicyFactory

pytestmark = pytest.mark.django_db


def errors(refused):
    return {field: [e.code for e in errs] for field, errs in refused.value.error_dict.items()}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"first_response_minutes": 0}, {"first_response_minutes": ["min_value"]}),
        ({"resolution_minutes": -5}, {"resolution_minutes": ["min_value"]}),
        ({"warn_percent": 0}, {"warn_percent": ["min_value"]}),
        ({"warn_percent": 100}, {"warn_percent": ["max_value"]}),
        ({"warn_minutes_before": 0}, {"warn_minutes_before": ["min_value"]}),
        ({"warn_minutes_before": 30}, {"__all__": ["two_warning_rules"]}),
        (
            {"first_response_minutes": None, "next_update_minutes": None, "resolution_minutes": None},
            {"__all__": ["no_target"]},
        ),
        ({"severity": "urgent"}, {"severity": ["invalid_choice"]}),
    ],
    ids=[
        "zero target", "negative target", "warning at 0 %", "warning at 100 %",
        "warning 0 minutes before", "two warning rules", "no target", "unknown severity",
    ],
)  # fmt: skip
def test_bad_policies_are_refused_with_field_errors(data, expected):
    good = {
        "name": "P1",
        "first_response_minutes": 15,
        "resolution_minutes": 240,
        "warn_percent": 75,
    }
    with pytest.raises(ValidationError) as refused:
        sla_policy_create(**{**good, **data})
    assert errors(refused) == expected
    assert not SLAPolicy.objects.exists()


def test_the_constraint_messages_say_what_is_wrong():
    with pytest.raises(ValidationError) as refused:
        sla_policy_create(name="P", first_response_minutes=15, warn_minutes_before=5)
    assert refused.value.messages == [
        "Warn at a share of the target or minutes before the due time, not both."
    ]


def test_a_refused_change_changes_nothing():
    policy = SLAPolicyFactory.create(first_response_minutes=15)
    with pytest.raises(ValidationError):
        sla_policy_update(policy=policy, data={"first_response_minutes": 0, "name": "Renamed"})
    policy.refresh_from_db()
    assert (policy.name, policy.first_response_minutes) == (policy.name, 15)
    assert SLAPolicy.objects.get().first_response_minutes == 15


def test_every_change_is_kept_in_history_with_who():
    agent = AgentFactory.create()
    policy = sla_policy_create(name="Premium P1", first_response_minutes=15, actor=agent)
    sla_policy_update(policy=policy, data={"first_response_minutes": 10}, actor=agent)
    assert list(
        policy.history.order_by("history_id").values_list(
            "history_type", "first_response_minutes", "history_user"
        )
    ) == [("+", 15, agent.pk), ("~", 10, agent.pk)]
