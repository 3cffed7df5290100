"""What the desk and the API read: open pages first, with what a list shows, in a fixed
number of queries; a page's timeline in order."""

from __future__ import annotations

import pytest

from incidents.paging.models import Page, Via
from incidents.paging.selectors import open_pages, page_timeline, page_with_timeline
from incidents.paging.services.pages import page_acknowledge, page_resolve
from tests.paging.conftest import critical_ticket, minutes, publish_critical

pytestmark = pytest.mark.django_db


def test_open_pages_come_first_newest_first_in_one_query(oncall, at_t0, django_assert_num_queries):
    for _ in range(5):
        publish_critical(critical_ticket())
        at_t0.shift(minutes(1))
    p1, p2, p3, p4, p5 = Page.objects.order_by("id")
    page_acknowledge(page=p5, actor=oncall.alice, via=Via.DESK)
    page_resolve(page=p4, actor=oncall.alice, via=Via.DESK)
    page_resolve(page=p1, actor=oncall.alice, via=Via.DESK)

    with django_assert_num_queries(1):
        pages = list(open_pages())
        shown = [
            (p.pk, p.state, p.policy.name if p.policy else None, p.ticket.reference if p.ticket else None,
             p.community.name if p.community else None,
             p.acknowledged_by.email if p.acknowledged_by else None,
             p.resolved_by.email if p.resolved_by else None)
            for p in pages
        ]  # fmt: skip

    assert [pk for pk, *_ in shown] == [p3.pk, p2.pk, p5.pk, p4.pk, p1.pk]
    assert [state for _, state, *_ in shown] == [
        "triggered", "triggered", "acknowledged", "resolved", "resolved",
    ]  # fmt: skip
    assert shown[2][5] == oncall.alice.email


def test_timelines_of_many_pages_take_two_queries(oncall, at_t0, django_assert_num_queries):
    for _ in range(4):
        publish_critical(critical_ticket())
    with django_assert_num_queries(2):
        timelines = [[e.kind for e in p.events.all()] for p in page_with_timeline()]
    assert timelines == [["triggered", "notified", "waiting"]] * 4


def test_a_pages_timeline_is_in_order_with_who_and_from_where(oncall, at_t0):
    publish_critical(critical_ticket())
    page = Page.objects.get()
    at_t0.shift(minutes(2))
    page_acknowledge(page=page, actor=oncall.alice, via=Via.LINK)
    timeline = [(e.kind, e.via, e.actor) for e in page_timeline(page)]
    assert timeline == [
        ("triggered", "system", None), ("notified", "system", None), ("waiting", "system", None),
        ("acknowledged", "link", oncall.alice),
    ]  # fmt: skip
