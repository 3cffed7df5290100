"""A page's one-click link in a real browser: opening it acknowledges the page; opening it
again shows the state and changes nothing."""

import pytest
from playwright.sync_api import expect

from incidents.paging.links import link_url
from incidents.paging.models import Page, PageEvent
from incidents.paging.services.pages import trigger_page
from tests.core.factories import AgentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_one_click_acknowledges_and_a_second_click_changes_nothing(page, live_server):
    engineer = AgentFactory.create(first_name="Noor", last_name="Haddad")
    paged = trigger_page(
        cause="integration", dedup_key="disk-full", title="Disk full on db-1", details="",
        severity="high", via="api",
    )  # fmt: skip
    link = link_url(page_id=paged.pk, action="acknowledge", user_id=engineer.pk)
    url = live_server.url + link[link.index("/page-links/") :]  # the link, on the test server

    page.goto(url)

    expect(page.get_by_text("Done: the page is acknowledged.")).to_be_visible()
    paged.refresh_from_db()
    assert (paged.state, paged.acknowledged_by) == ("acknowledged", engineer)
    events = PageEvent.objects.filter(page=paged).count()

    page.goto(url)

    expect(page.get_by_text("This link changes nothing now")).to_be_visible()
    assert Page.objects.get(pk=paged.pk).state == "acknowledged"
    assert PageEvent.objects.filter(page=paged).count() == events
