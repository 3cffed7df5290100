"""A real worker on the real Redis: a critical ticket pages the primary and an email goes
out; the end of a wait runs the next step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from incidents.notify.models import Delivery
from incidents.oncall.selectors import on_call
from incidents.paging.models import Page, PageEvent
from incidents.paging.services import dispatch
from tests.paging.conftest import critical_ticket
from tests.processes import broker_state, celery_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def sent_to(user) -> int:
    return Delivery.objects.filter(
        notification__recipient=user, notification__source="page", status="sent", channel="email"
    ).count()


def test_a_critical_ticket_pages_the_primary_through_a_worker(oncall):
    ticket = critical_ticket()
    now = timezone.now()
    primary, backup = on_call(oncall.primary, now), on_call(oncall.backup, now)
    assert primary is not None
    assert backup is not None

    with celery_worker():
        with transaction.atomic():
            outbox.publish("ticket.critical", community_id=ticket.community_id, ticket_id=ticket.pk)
        wait_until(
            lambda: sent_to(primary) == 1,
            timeout=60,
            what=lambda: f"the primary's email; {broker_state()}",
        )
        page = Page.objects.get()
        assert (page.state, page.step_index) == ("triggered", 2)
        # The wait is over (a minute early, rather than waiting five).
        Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now())
        dispatch.escalate_at(page_id=page.pk, eta=timezone.now() + timedelta(seconds=1))
        wait_until(
            lambda: sent_to(backup) == 1,
            timeout=60,
            what=lambda: f"the backup's email; {broker_state()}",
        )

    assert list(
        PageEvent.objects.filter(page=page, kind="notified").values_list(
            "detail__user_id", flat=True
        )
    ) == [primary.pk, backup.pk]
