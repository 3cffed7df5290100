"""Two agents on one ticket: who else has it open, and a change made on a page that no longer
shows the ticket as it is."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests.core.factories import AgentFactory
from tests.web.desk.conftest import found, open_ticket, snapshot
from tickets.models import Message, TicketEvent
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_transition
from tickets.services.macros import macro_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_presence():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sam():
    return AgentFactory.create(first_name="Sam", last_name="Berg")


@pytest.fixture
def ticket():
    return open_ticket(subject="Pods stuck in pending")


def seen_on(html: str) -> set[int]:
    return {int(v) for v in re.findall(r'name="seen_event_id" value="(\d+)"', html)}


def _load(desk, ticket) -> int:
    """Open the ticket page; the event id every form on it carries."""
    html = desk.get(f"/desk/tickets/{ticket.reference}/").content.decode()
    (seen,) = seen_on(html)
    return seen


def test_every_form_on_the_page_carries_the_newest_event_it_showed(desk, agent, ticket):
    macro_create(name="Greeting", body="Hello")
    newest = TicketEvent.objects.filter(ticket=ticket).latest("pk").pk

    html = desk.get(f"/desk/tickets/{ticket.reference}/").content.decode()

    assert seen_on(html) == {newest}
    posts = html.count('<form method="post"') - 1  # the header's log-out form
    gets = html.count('<form method="get"')  # the macro picker, the merge form
    assert (posts, gets) == (16, 2)
    assert html.count('name="seen_event_id"') == posts + gets
    assert f'hx-get="/desk/tickets/{ticket.reference}/presence/?seen={newest}"' in html


def test_a_ticket_without_events_is_seen_as_zero(desk):
    from tests.tickets.factories import TicketFactory

    bare = TicketFactory.create()

    assert _load(desk, bare) == 0


def test_a_stale_reply_is_refused_with_what_changed_and_the_draft_kept(desk, agent, sam, ticket):
    seen = _load(desk, ticket)
    with time_machine.travel(timezone.now() - timedelta(minutes=2)):
        theirs = message_add(ticket=ticket, author=sam, body="Restarted the scheduler")
    latest = TicketEvent.objects.filter(ticket=ticket).latest("pk").pk
    before = snapshot()

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/reply/",
        {"body": "Try restarting the scheduler", "kind": "public", "seen_event_id": seen},
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert snapshot() == before
    assert not Message.objects.filter(author=agent).exists()
    assert re.search(r"<strong>Sam Berg</strong> replied <time [^>]+>2 min ago</time>", html)
    assert f'id="message-{theirs.pk}"' in html
    assert "Restarted the scheduler" in html
    assert html_lib.unescape(found(r'id="composer_body">\n?(.*?)</textarea>', html).group(1)) == (
        "Try restarting the scheduler"
    )
    assert '<button type="submit">Send anyway</button>' in html
    assert seen_on(html) == {latest}

    again = desk.post(
        f"/desk/tickets/{ticket.reference}/reply/",
        {"body": "Try restarting the scheduler", "kind": "public", "seen_event_id": latest},
    )

    assert again.status_code == 302
    assert Message.objects.get(author=agent).body == "Try restarting the scheduler"


def test_a_stale_htmx_reply_answers_with_the_thread_and_what_changed(desk, agent, sam, ticket):
    seen = _load(desk, ticket)
    message_add(ticket=ticket, author=sam, body="Restarted the scheduler", kind="internal")

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/reply/",
        {"body": "My draft", "kind": "public", "seen_event_id": seen},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert html.strip().startswith('<section id="thread"')
    assert "<strong>Sam Berg</strong> added an internal note" in html
    assert "My draft</textarea>" in html
    assert '<button type="submit">Send anyway</button>' in html
    assert not Message.objects.filter(author=agent).exists()


def test_a_stale_status_change_is_refused_and_can_be_sent_anyway(desk, agent, sam, ticket):
    seen = _load(desk, ticket)
    ticket_transition(ticket=ticket, name="start_work", actor=sam)
    latest = TicketEvent.objects.filter(ticket=ticket).latest("pk").pk
    before = snapshot()

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/transition/",
        {"transition": "resolve", "seen_event_id": seen},
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert snapshot() == before
    assert "<strong>Sam Berg</strong> changed status: New → In progress" in html
    assert "<strong>Sam Berg</strong> assigned the ticket to Sam Berg" in html
    resend = found(
        r'<form method="post" action="([^"]+)" class="inline-form resend">([\s\S]*?)</form>', html
    )
    assert resend.group(1) == f"/desk/tickets/{ticket.reference}/transition/"
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', resend.group(2))
    )
    assert fields["transition"] == "resolve"
    assert fields["seen_event_id"] == str(latest)

    again = desk.post(resend.group(1), fields)

    assert again.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("assign", {"assignee": ""}),
        ("fields", {"severity": "high", "tier": "expert", "reason": "Busy week"}),
        ("tags", {"tags": "gpu"}),
    ],
)
def test_stale_changes_to_the_fields_are_refused_too(desk, sam, ticket, action, data):
    seen = _load(desk, ticket)
    message_add(ticket=ticket, author=sam, body="Update")
    before = snapshot()

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/{action}/", {**data, "seen_event_id": seen}
    )

    assert response.status_code == 409
    assert snapshot() == before


def test_a_stale_merge_is_refused(desk, sam, ticket):
    target = open_ticket(ticket.community)
    seen = _load(desk, ticket)
    message_add(ticket=ticket, author=sam, body="Not a duplicate after all")
    before = snapshot()

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/merge/",
        {"target": target.reference, "seen_event_id": seen},
    )

    assert response.status_code == 409
    assert snapshot() == before


def test_my_own_changes_since_loading_do_not_count(desk, agent, ticket):
    seen = _load(desk, ticket)
    message_add(ticket=ticket, author=agent, body="First")

    response = desk.post(
        f"/desk/tickets/{ticket.reference}/transition/",
        {"transition": "resolve", "seen_event_id": seen},
    )

    assert response.status_code == 302


# ---------------------------------------------------------------- presence


def _poll(client, ticket, seen: int = 0):
    return client.get(
        f"/desk/tickets/{ticket.reference}/presence/?seen={seen}", HTTP_HX_REQUEST="true"
    )


def test_the_page_shows_who_else_has_the_ticket_open_but_not_the_viewer(desk, agent, sam, ticket):
    other = Client()
    other.force_login(sam)
    _poll(other, ticket)

    html = desk.get(f"/desk/tickets/{ticket.reference}/").content.decode()
    poll = _poll(desk, ticket).content.decode()

    assert (
        '<p class="viewers"><span class="badge badge-viewing">Also viewing</span> Sam Berg</p>'
        in html
    )
    assert "Sam Berg" in poll
    assert agent.display_name not in poll
    assert 'hx-trigger="every 15s"' in poll


def test_presence_expires_when_the_other_agent_stops_polling(desk, sam, ticket):
    other = Client()
    other.force_login(sam)
    _poll(other, ticket)

    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        still = _poll(desk, ticket).content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=50)):
        gone = _poll(desk, ticket).content.decode()

    assert "Sam Berg" in still
    assert "Sam Berg" not in gone


def test_presence_is_per_ticket(desk, sam, ticket):
    other = Client()
    other.force_login(sam)
    _poll(other, open_ticket())

    assert "Sam Berg" not in _poll(desk, ticket).content.decode()


def test_the_poll_says_when_someone_else_changed_the_ticket(desk, agent, sam, ticket):
    seen = _load(desk, ticket)
    quiet = _poll(desk, ticket, seen).content.decode()
    message_add(ticket=ticket, author=agent, body="Mine does not count")
    still_quiet = _poll(desk, ticket, seen).content.decode()
    message_add(ticket=ticket, author=sam, body="Theirs does")

    changed = _poll(desk, ticket, seen).content.decode()

    assert "changed since you opened it" not in quiet
    assert "changed since you opened it" not in still_quiet
    assert "This ticket changed since you opened it." in changed
    assert f'hx-get="/desk/tickets/{ticket.reference}/presence/?seen={seen}"' in changed
