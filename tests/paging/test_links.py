"""One-click links: opening one shows the page and a button (a GET changes nothing); the
button acts once; a reused link shows the state; a tampered or expired one changes nothing."""

from __future__ import annotations

import pytest
import time_machine
from django.core import signing

from incidents.notify.models import Notification
from incidents.paging.links import SALT, link_read, link_token, link_url
from incidents.paging.models import Page, PageEvent
from tests.paging.conftest import T0, critical_ticket, minutes, publish_critical

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(oncall, at_t0) -> Page:
    publish_critical(critical_ticket())
    return Page.objects.get()


def path_of(url: str) -> str:
    return url[url.index("/page-links/") :]


def acknowledge_link(page: Page, user) -> str:
    return path_of(link_url(page_id=page.pk, action="acknowledge", user_id=user.pk))


def snapshot(page: Page) -> tuple[object, ...]:
    page.refresh_from_db()
    return (page.state, page.acknowledged_by_id, page.resolved_by_id, page.events.count())


def test_the_notification_carries_links_that_name_the_page_action_and_person(page, oncall):
    notification = Notification.objects.get()
    token = notification.links["Acknowledge"].rstrip("/").rsplit("/", 1)[-1]
    link = link_read(token)
    assert (link.page_id, link.action, link.user_id) == (page.pk, "acknowledge", oncall.alice.pk)
    assert notification.links["Acknowledge"].startswith("http://")


def test_opening_a_link_shows_the_page_and_changes_nothing(client, page, oncall):
    before = snapshot(page)
    response = client.get(acknowledge_link(page, oncall.alice))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Acknowledge page {page.pk}" in body
    assert 'data-state="triggered"' in body
    assert snapshot(page) == before


def test_the_button_acknowledges_once_as_the_person_the_link_was_sent_to(client, page, oncall):
    url = acknowledge_link(page, oncall.alice)

    response = client.post(url)

    assert response.status_code == 200
    assert "Done: the page is acknowledged." in response.content.decode()
    page.refresh_from_db()
    assert (page.state, page.acknowledged_by) == ("acknowledged", oncall.alice)
    event = PageEvent.objects.get(page=page, kind="acknowledged")
    assert (event.actor, event.via) == (oncall.alice, "link")

    # Reused: the current state, no button, nothing changes.
    before = snapshot(page)
    again = client.post(url)
    assert again.status_code == 200
    assert "Nothing changed: the page is already acknowledged." in again.content.decode()
    opened = client.get(url).content.decode()
    assert "This link changes nothing now" in opened
    assert f"Acknowledge page {page.pk}" not in opened
    assert snapshot(page) == before


def test_a_resolve_link_resolves_and_then_only_shows_the_state(client, page, oncall):
    url = path_of(link_url(page_id=page.pk, action="resolve", user_id=oncall.carol.pk))
    assert client.post(url).status_code == 200
    page.refresh_from_db()
    assert (page.state, page.resolved_by) == ("resolved", oncall.carol)
    before = snapshot(page)
    ack = client.post(acknowledge_link(page, oncall.alice))
    assert ack.status_code == 200
    assert "already resolved" in ack.content.decode()
    assert snapshot(page) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_refused_and_changes_nothing(client, page, oncall, method):
    token = link_token(page_id=page.pk, action="acknowledge", user_id=oncall.alice.pk)
    forged_payload = signing.TimestampSigner(salt="another salt").sign_object(
        {"p": page.pk, "a": "resolve", "u": oncall.alice.pk}
    )
    before = snapshot(page)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged_payload, "x"):
        response = getattr(client, method)(f"/page-links/{bad}/")
        assert response.status_code == 404
        assert "This link is not valid." in response.content.decode()
    assert snapshot(page) == before


def test_a_link_to_a_page_that_is_gone_is_refused(client, db):
    token = signing.TimestampSigner(salt=SALT).sign_object({"p": 424242, "a": "resolve", "u": None})
    assert client.post(f"/page-links/{token}/").status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_is_refused_and_changes_nothing(client, page, oncall, settings, method):
    settings.PAGING_LINK_MAX_AGE_SECONDS = 3600
    url = acknowledge_link(page, oncall.alice)
    before = snapshot(page)
    with time_machine.travel(T0 + minutes(61), tick=False):
        response = getattr(client, method)(url)
    assert response.status_code == 400
    assert "This link has expired." in response.content.decode()
    assert snapshot(page) == before
