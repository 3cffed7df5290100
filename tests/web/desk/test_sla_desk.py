"""Where agents see the SLA clocks: a badge on each queue row, the "Breaching soon" queue and
the ticket page's "SLA clocks" panel.

Calendar: Monday to Friday, 09:00-17:00 Europe/Berlin (2024-06-03 is a Monday). Policy: first
response 4 h, next update 8 h, resolution 24 h, business time, warn at 75 %. The agent reads
the desk in New York time (EDT, Berlin - 6 h).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from slas.services.sweep import sla_sweep
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.slas.conftest import berlin, sync
from tests.slas.factories import BusinessCalendarFactory, SLAPolicyFactory
from tests.tickets.factories import TicketFactory
from tests.web.desk.test_queue import counts, rows
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition

pytestmark = pytest.mark.django_db

NOW = "2024-06-03 13:25"


@pytest.fixture
def sla(agent):
    agent.time_zone = "America/New_York"
    agent.save(update_fields=["time_zone"])
    BusinessCalendarFactory.create(name="Berlin office", is_default=True)
    community = CommunityFactory.create(time_zone="Europe/Berlin")
    return SimpleNamespace(
        community=community,
        policy=SLAPolicyFactory.create(name="Everything"),
        representative=MembershipFactory.create(community=community, role="representative").user,
        agent=agent,
    )


def open_at(sla, clock_, when: str, subject: str):
    """A ticket opened at `when` (Berlin) by the representative, its clocks armed."""
    clock_.move_to(berlin(when))
    ticket = ticket_open(
        community=sla.community, requester=sla.representative, opened_by=sla.representative,
        subject=subject, description="Every login returns 503.",
    )  # fmt: skip
    sync(ticket)
    return ticket


@pytest.fixture
def board(sla):
    """At 13:25: a first response 25 min overdue, one due in 55 min (past its warning), one
    due in 2 h 10 min; a ticket whose resolution is paused; one whose clocks were all met;
    one the clocks never saw."""
    with time_machine.travel(berlin("2024-06-03 09:00"), tick=False) as clock_:
        overdue = open_at(sla, clock_, "2024-06-03 09:00", "overdue")  # due 13:00
        paused = open_at(sla, clock_, "2024-06-03 10:00", "paused")
        met = open_at(sla, clock_, "2024-06-03 10:00", "met")
        warning = open_at(sla, clock_, "2024-06-03 10:20", "warning")  # due 14:20, warn 13:20
        clock_.move_to(berlin("2024-06-03 10:30"))
        for ticket in (paused, met):
            message_add(ticket=ticket, author=sla.agent, body="On it")
        clock_.move_to(berlin("2024-06-03 10:45"))
        ticket_transition(ticket=paused, name="wait_on_customer", actor=sla.agent)
        ticket_transition(ticket=met, name="resolve", actor=sla.agent)
        sync(paused)
        sync(met)
        left = open_at(sla, clock_, "2024-06-03 11:35", "left")  # due 15:35
    return {
        "overdue": overdue,
        "warning": warning,
        "left": left,
        "paused": paused,
        "met": met,
        "none": TicketFactory.create(community=sla.community, status="open"),
    }


def badge(html: str, ticket) -> tuple[str, str | None, str | None]:
    """The row's SLA cell: its text, its colour class and the title shown on hover."""
    cell = re.search(rf'id="select-{ticket.pk}".*?<td class="sla">(.*?)</td>', html, re.S)
    assert cell, f"no row for {ticket.reference}"
    colour = re.search(r'class="badge sla (sla-\w+)"', cell.group(1))
    title = re.search(r'title="([^"]+)"', cell.group(1))
    return (
        " ".join(re.sub(r"<[^>]+>", "", cell.group(1)).split()),
        colour.group(1) if colour else None,
        title.group(1) if title else None,
    )


# ---------------------------------------------------------------- the queue's badges


def test_each_row_shows_its_most_urgent_clock_with_the_due_time_on_hover(desk, board):
    with time_machine.travel(berlin(NOW), tick=False):
        html = desk.get("/desk/").content.decode()

    assert {name: badge(html, ticket) for name, ticket in board.items()} == {
        "overdue": ("First response: overdue 25 min", "sla-breached", "Due 2024-06-03 07:00 EDT"),
        "warning": ("First response: due in 55 min", "sla-warning", "Due 2024-06-03 08:20 EDT"),
        "left": ("First response: due in 2 h 10 min", "sla-ok", "Due 2024-06-03 09:35 EDT"),
        "paused": ("Resolution: paused", "sla-paused", None),
        "met": ("", None, None),
        "none": ("", None, None),
    }


def test_a_breach_the_sweeper_recorded_still_reads_overdue(desk, board):
    with time_machine.travel(berlin(NOW), tick=False):
        sla_sweep()
        html = desk.get("/desk/").content.decode()

    assert badge(html, board["overdue"]) == (
        "First response: overdue 25 min", "sla-breached", "Due 2024-06-03 07:00 EDT",
    )  # fmt: skip


def test_the_badge_follows_the_clock(desk, board):
    with time_machine.travel(berlin("2024-06-03 15:00"), tick=False):
        html = desk.get("/desk/").content.decode()

    assert badge(html, board["left"]) == (
        "First response: due in 35 min", "sla-warning", "Due 2024-06-03 09:35 EDT",
    )  # fmt: skip


# ---------------------------------------------------------------- breaching soon


def test_breaching_soon_lists_running_clocks_due_within_the_horizon_soonest_first(
    desk, board, settings
):
    settings.SLA_BREACHING_SOON_MINUTES = 60
    with time_machine.travel(berlin(NOW), tick=False):
        response = desk.get("/desk/?queue=breaching-soon")

    # Newest first would put "warning" first; the queue sorts by due time.
    assert rows(response) == [board["overdue"].pk, board["warning"].pk]
    assert counts(response)["breaching-soon"] == 2
    html = response.content.decode()
    assert '<a href="/desk/?queue=breaching-soon" aria-current="page"><span>Breaching soon' in html
    assert re.search(
        r'aria-sort="ascending">\s*<a href="\?queue=breaching-soon&amp;sort=-sla">SLA', html
    )


def test_the_horizon_is_a_setting(desk, board, settings):
    settings.SLA_BREACHING_SOON_MINUTES = 180
    with time_machine.travel(berlin(NOW), tick=False):
        response = desk.get("/desk/?queue=breaching-soon")

    assert rows(response) == [board["overdue"].pk, board["warning"].pk, board["left"].pk]
    assert counts(response)["breaching-soon"] == 3


def test_a_breach_once_recorded_leaves_breaching_soon(desk, board, settings):
    settings.SLA_BREACHING_SOON_MINUTES = 60
    with time_machine.travel(berlin(NOW), tick=False):
        sla_sweep()
        response = desk.get("/desk/?queue=breaching-soon")

    assert rows(response) == [board["warning"].pk]
    assert counts(response)["breaching-soon"] == 1


def test_the_rail_counts_breaching_soon_in_a_query_of_its_own(
    desk, board, settings, django_assert_num_queries
):
    settings.SLA_BREACHING_SOON_MINUTES = 60
    # session, user, the unresolved tickets' counts, breaching soon's, recently resolved's
    with time_machine.travel(berlin(NOW), tick=False), django_assert_num_queries(5):
        response = desk.get("/desk/rail/?queue=breaching-soon", HTTP_HX_REQUEST="true")

    assert counts(response)["breaching-soon"] == 2


def test_the_sla_column_sorts_by_the_first_due_time_with_clockless_tickets_last(desk, board):
    with time_machine.travel(berlin(NOW), tick=False):
        ascending = rows(desk.get("/desk/?sort=sla"))
        descending = rows(desk.get("/desk/?sort=-sla"))

    # The paused and met tickets have no running or breached clock: they sort with "none".
    order = ["overdue", "warning", "left"]
    assert ascending[:3] == [board[name].pk for name in order]
    assert set(ascending[3:]) == {board[name].pk for name in ("paused", "met", "none")}
    assert descending == list(reversed(ascending))


def _queue_queries(desk, sla, how_many: int, query: str) -> int:
    with time_machine.travel(berlin("2024-06-03 09:00"), tick=False) as clock_:
        for i in range(how_many):
            open_at(sla, clock_, f"2024-06-03 09:{i:02d}", f"Ticket {i}")  # due 13:{i:02d}
        clock_.move_to(berlin("2024-06-03 13:59"))
        with CaptureQueriesContext(connection) as queries:
            response = desk.get(f"/desk/{query}")
    assert len(rows(response)) == how_many
    assert response.content.decode().count('class="badge sla sla-breached"') == how_many
    return len(queries)


@pytest.mark.parametrize("query", ["", "?queue=breaching-soon"])
def test_the_badges_cost_one_query_however_many_rows(desk, sla, query):
    # As test_queue's pin: session, user, communities, agents, the page, the page's SLA
    # badges, the counts (three), saved filters.
    assert _queue_queries(desk, sla, 2, query) == 10


@pytest.mark.parametrize("query", ["", "?queue=breaching-soon"])
def test_the_badges_cost_one_query_for_a_long_page_too(desk, sla, query):
    assert _queue_queries(desk, sla, 30, query) == 10


# ---------------------------------------------------------------- the ticket page's panel


def panel(html: str) -> str:
    start = html.index('<h2 id="panel-sla-clocks">')
    return html[start : html.index("</section>", start)]


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def clock_rows(html: str) -> list[str]:
    return [
        text(row) for row in re.findall(r'<div class="sla-clock">(.*?)</div>', panel(html), re.S)
    ]


def history(html: str) -> list[str]:
    return [text(item) for item in re.findall(r"<li>(.*?)</li>", panel(html), re.S)]


@pytest.fixture
def story(sla):
    """Opened 10:00; the first response warns at 13:10 and breaches at 14:10 (the sweeper),
    and is met late at 14:30; waiting on the customer from 15:00 pauses the resolution, and
    the customer's answer at 16:00 resumes it and starts next update."""
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_at(sla, clock_, "2024-06-03 10:00", "Hub down")
        clock_.move_to(berlin("2024-06-03 13:10"))
        sla_sweep()
        clock_.move_to(berlin("2024-06-03 14:10"))
        sla_sweep()
        clock_.move_to(berlin("2024-06-03 14:30"))
        message_add(ticket=ticket, author=sla.agent, body="Sorry for the wait")
        clock_.move_to(berlin("2024-06-03 15:00"))
        ticket_transition(ticket=ticket, name="wait_on_customer", actor=sla.agent)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 16:00"))
        message_add(ticket=ticket, author=sla.representative, body="Here are the logs")
        sync(ticket)
    return ticket


def test_the_panel_shows_the_policy_why_and_all_three_clocks(desk, sla, story):
    with time_machine.travel(berlin("2024-06-03 16:30"), tick=False):
        html = desk.get(f"/desk/tickets/{story.reference}/").content.decode()

    assert "Policy: <strong>Everything</strong>" in panel(html)
    assert (
        "“Everything” is the first matching policy (number 1 in order): any plan, any "
        "severity, any kind, any community. Business time follows the calendar “Berlin "
        "office” (Europe/Berlin)."
    ) in panel(html)
    assert clock_rows(html) == [
        "First response Met Met 2024-06-03 08:30 EDT, late (due 2024-06-03 08:00 EDT). "
        "Target 4 h in business time (Everything)",
        "Next update Running 7 h 30 min left (business time) Due 2024-06-04 10:00 EDT. "
        "Target 8 h in business time (Everything)",
        # 16 business hours of 24 used by 16:30, less the hour it was paused.
        "Resolution Running 18 h 30 min left (business time) Due 2024-06-06 05:00 EDT. "
        "Target 24 h in business time (Everything)",
    ]
    assert re.findall(r'class="badge sla (sla-\w+)"', panel(html)) == [
        "sla-met",
        "sla-ok",
        "sla-ok",
    ]


def test_the_panel_lists_the_clock_history_with_times_in_the_viewers_zone(desk, sla, story):
    html = desk.get(f"/desk/tickets/{story.reference}/").content.decode()
    rep, agent = sla.representative.display_name, sla.agent.display_name

    assert history(html) == [
        f"2024-06-03 04:00 EDT First response armed by {rep} "
        "(target 4 h in business time, due 2024-06-03 08:00 EDT)",
        f"2024-06-03 04:00 EDT Resolution armed by {rep} "
        "(target 24 h in business time, due 2024-06-06 04:00 EDT)",
        "2024-06-03 07:10 EDT First response warned (due 2024-06-03 08:00 EDT)",
        "2024-06-03 08:10 EDT First response breached (was due 2024-06-03 08:00 EDT)",
        f"2024-06-03 08:30 EDT First response met by {agent} (public reply, late)",
        f"2024-06-03 09:00 EDT Resolution paused by {agent} (ticket waiting on customer)",
        f"2024-06-03 10:00 EDT Next update armed by {rep} "
        "(target 8 h in business time, due 2024-06-04 10:00 EDT)",
        f"2024-06-03 10:00 EDT Resolution resumed by {rep} (due 2024-06-06 05:00 EDT)",
    ]


def test_a_paused_clock_says_since_when_and_an_overdue_one_by_how_much(desk, sla, board):
    with time_machine.travel(berlin(NOW), tick=False):
        paused = desk.get(f"/desk/tickets/{board['paused'].reference}/").content.decode()
        overdue = desk.get(f"/desk/tickets/{board['overdue'].reference}/").content.decode()

    assert clock_rows(paused)[2] == (
        "Resolution Paused 23 h 15 min left (business time) Paused since 2024-06-03 04:45 EDT; "
        "the due time moves on when it resumes. Target 24 h in business time (Everything)"
    )
    assert clock_rows(overdue)[0] == (
        "First response Running overdue by 25 min (business time) Due 2024-06-03 07:00 EDT. "
        "Target 4 h in business time (Everything)"
    )
    assert re.findall(r'class="badge sla (sla-\w+)"', panel(overdue))[0] == "sla-breached"


def test_a_ticket_the_clocks_have_not_seen_says_so(desk, sla):
    ticket = TicketFactory.create(community=sla.community)

    html = desk.get(f"/desk/tickets/{ticket.reference}/").content.decode()

    assert "No policy applies." in panel(html)
    assert "The clocks have not seen this ticket yet." in panel(html)
    assert clock_rows(html) == [
        "First response Not running.", "Next update Not running.", "Resolution Not running.",
    ]  # fmt: skip
    assert "No clock has run on this ticket." in panel(html)


def _panel_queries(desk, settings, ticket) -> int:
    """The queries the ticket page makes with the SLA panel, less those it makes without."""
    made = []
    for panels in ([], ["web.desk.sla.sla_panel"]):
        settings.DESK_TICKET_PANELS = panels
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(f"/desk/tickets/{ticket.reference}/").status_code == 200
        made.append(len(queries))
    return made[1] - made[0]


def test_the_panel_costs_five_queries_however_long_the_history(desk, settings, story, board):
    # its TicketSLA, the clocks with their policy and calendar, their history, the
    # calendar's hours, its holidays
    assert _panel_queries(desk, settings, story) == 5
    assert _panel_queries(desk, settings, board["overdue"]) == 5


# ---------------------------------------------------------------- tenancy


@pytest.mark.parametrize("who", ["outsider", "representative"])
def test_people_who_are_not_agents_get_404_and_see_no_count(client, sla, board, who, outsider):
    user = {"outsider": outsider, "representative": sla.representative}[who]
    client.force_login(user)

    page = client.get(f"/desk/tickets/{board['overdue'].reference}/")
    rail = client.get("/desk/rail/?queue=breaching-soon")
    queue = client.get("/desk/?queue=breaching-soon")

    assert (page.status_code, rail.status_code, queue.status_code) == (404, 404, 404)
    for response in (page, rail, queue):
        assert b"data-queue" not in response.content
        assert b"SLA clocks" not in response.content
