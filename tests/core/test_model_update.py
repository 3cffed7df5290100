"""core.services.model_update: what changed is validated, at the least cost."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import CheckConstraint, Q
from django.test.utils import CaptureQueriesContext

from core.services import _repeats_choices, model_update
from routing.models import AgentProfile, Team
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_a_check_that_repeats_a_fields_choices_is_left_to_the_fields_validation():
    ticket = TicketFactory.create(tier="self_service")

    with CaptureQueriesContext(connection) as queries:
        model_update(instance=ticket, fields=("tier",), data={"tier": "expert"})

    sql = [q["sql"] for q in queries.captured_queries]
    assert not any("_check" in statement for statement in sql), sql
    assert Ticket.objects.get(pk=ticket.pk).tier == "expert"


def test_a_value_outside_the_choices_is_still_refused_and_nothing_is_saved():
    ticket = TicketFactory.create(tier="self_service")

    with pytest.raises(ValidationError) as error:
        model_update(instance=ticket, fields=("tier",), data={"tier": "galactic"})

    assert set(error.value.message_dict) == {"tier"}
    assert Ticket.objects.get(pk=ticket.pk).tier == "self_service"


@pytest.mark.parametrize(
    ("model", "condition", "repeats"),
    [
        (Ticket, Q(tier__in=["self_service", "community", "expert", "engineering", "emergency"]), True),
        (Ticket, Q(tier__in=["self_service", "community"]), False),  # narrower than the choices
        (Ticket, ~Q(tier__in=["expert"]), False),
        (Ticket, Q(tier__in=["expert"]) & Q(severity="low"), False),
        (Ticket, Q(subject__in=["a"]), False),  # no choices to lean on
        (Team, Q(tier__in=["self_service", "community", "expert", "engineering", "emergency"]), True),
        (AgentProfile, Q(status__in=["available", "away", "off"]), True),
    ],
)  # fmt: skip
def test_which_checks_repeat_choices(model, condition, repeats):
    constraint = CheckConstraint(condition=condition, name="probe")
    assert _repeats_choices(model, constraint) is repeats
