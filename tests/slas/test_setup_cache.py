"""The policies and calendars a worker keeps between syncs (slas.selectors.sla_setup): read
once, then only a digest of their tables per sync, and read again after any change, however
it was made."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from slas.models import CommunityCalendar, SLAPolicy, TicketSLA
from slas.services.calendars import community_calendar_set
from tests.slas.conftest import berlin, clock, sync
from tests.slas.factories import BusinessCalendarFactory
from tests.slas.test_clocks import open_ticket

pytestmark = pytest.mark.django_db

SETUP_TABLES = ("slas_slapolicy", "slas_businesscalendar", "slas_workinginterval", "slas_holiday")


def reads_of_the_setup(queries) -> list[str]:
    return [
        q["sql"] for q in queries if any(f'FROM "{table}"' in q["sql"] for table in SETUP_TABLES)
    ]


def test_a_sync_after_the_first_reads_no_policy_or_calendar(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        sync(open_ticket(desk))
        ticket = open_ticket(desk)
        with CaptureQueriesContext(connection) as synced:
            sync(ticket)

    assert reads_of_the_setup(synced.captured_queries) == []
    assert clock(ticket, "first_response").due_at == berlin("2024-06-03 14:00")


def test_a_policy_changed_behind_the_services_back_is_read_again(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        sync(open_ticket(desk))
        SLAPolicy.objects.filter(pk=desk.policy.pk).update(first_response_minutes=60)
        ticket = open_ticket(desk)
        sync(ticket)

    assert clock(ticket, "first_response").due_at == berlin("2024-06-03 11:00")


def test_a_community_moved_to_another_calendar_is_read_again(desk):
    around_the_clock = BusinessCalendarFactory.create(name="Always", around_the_clock=True)
    office = BusinessCalendarFactory.create(name="Other office")
    with time_machine.travel(berlin("2024-06-03 16:00"), tick=False):
        community_calendar_set(community=desk.community, calendar=office)
        sync(open_ticket(desk))
        # The same row, another calendar: the link's id and the number of links stay.
        community_calendar_set(community=desk.community, calendar=around_the_clock)
        assert CommunityCalendar.objects.count() == 1
        ticket = open_ticket(desk)
        sync(ticket)

    assert TicketSLA.objects.get(pk=ticket.pk).calendar_id == around_the_clock.pk
    assert clock(ticket, "first_response").due_at == berlin("2024-06-03 20:00")
