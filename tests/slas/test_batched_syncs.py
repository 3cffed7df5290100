"""A worker with a backlog of clock syncs runs them in one batch (core.outbox): each ticket
once, however many of its events wait, with the same clocks as syncing every event."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine

from core import outbox
from core.models import EventDelivery
from slas.services.clocks import ticket_clocks_sync
from tests.slas.conftest import berlin, sync
from tests.slas.test_clocks import open_ticket
from tests.slas.test_skipped_syncs import SYNC, _snapshot, _step

pytestmark = pytest.mark.django_db


def test_a_backlog_of_syncs_runs_as_one_batch_with_each_ticket_once(desk):
    at = berlin("2024-06-03 10:00")
    with time_machine.travel(at, tick=False) as clock:
        every, first, second = (open_ticket(desk) for _ in range(3))
        sync(every)
        for step in ("assign", "customer message", "wait_on_customer", "severity high"):
            at += timedelta(minutes=47)
            clock.move_to(at)
            for ticket in (every, second, first):
                _step(ticket, step, desk)
            sync(every)
        pending = EventDelivery.objects.filter(handler=SYNC, state="pending")
        waiting = pending.count()
        assert 9 <= waiting <= 25  # several events of each ticket, one batch's worth

        with mock.patch("slas.handlers.ticket_clocks_sync", wraps=ticket_clocks_sync) as synced:
            assert outbox.delivery_run(delivery_id=pending.order_by("pk")[0].pk) is True

    # Once per ticket, by id (the deliveries of `every` wait too, though synced already).
    assert [c.kwargs["ticket_id"] for c in synced.call_args_list] == [every.pk, first.pk, second.pk]
    assert not pending.exists()
    assert _snapshot(first)[0] == _snapshot(every)[0]
    assert _snapshot(second)[0] == _snapshot(every)[0]
