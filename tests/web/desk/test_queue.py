"""The queue page: queues and their counts, filters, sorting, pages, bulk actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tests.web.desk.conftest import field_errors, found, open_ticket, snapshot
from tickets.models import Ticket, TicketEvent, Tier
from web.desk.queues import QUEUES, QUEUES_BY_KEY, queue_counts
from web.desk.services import saved_filter_create
from web.models import SavedFilter

pytestmark = pytest.mark.django_db


def rows(response) -> list[int]:
    """The tickets listed, in order."""
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'id="select-(\d+)"', response.content.decode())]


def counts(response) -> dict[str, int]:
    return {
        key: int(n)
        for key, n in re.findall(r'data-queue="([\w-]+)">(\d+)', response.content.decode())
    }


def notices(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def board(agent):
    """One ticket for each situation a queue tells apart."""
    colleague = AgentFactory.create()
    now = timezone.now()
    make = TicketFactory.create
    return {
        "mine": make(status="assigned", assignee=agent, tier="community"),
        "mine_resolved": make(status="resolved", assignee=agent, resolved_at=now - timedelta(days=1)),
        "new": make(status="new", tier="self_service"),
        "open": make(status="open", tier="community"),
        "colleagues": make(status="in_progress", assignee=colleague, tier="expert"),
        "waiting": make(status="waiting_on_customer", tier="engineering"),
        "pending": make(status="pending", assignee=colleague, tier="emergency"),
        "approval": make(status="awaiting_approval"),
        "closed_recently": make(status="closed", resolved_at=now - timedelta(days=6)),
        "closed_long_ago": make(status="closed", resolved_at=now - timedelta(days=8)),
        "never_resolved": make(status="closed"),
    }  # fmt: skip


EXPECTED = {
    "mine": {"mine"},
    "unassigned": {"new", "open", "waiting"},
    "breaching-soon": set(),  # no SLA clock runs on these (tests/web/desk/test_sla_desk.py)
    "tier-self_service": {"new"},
    "tier-community": {"mine", "open"},
    "tier-expert": {"colleagues"},
    "tier-engineering": {"waiting"},
    "tier-emergency": {"pending"},
    "awaiting-approval": {"approval"},
    "waiting": {"waiting"},
    "pending": {"pending"},
    "recently-resolved": {"mine_resolved", "closed_recently"},
}


def test_the_queue_table_covers_every_queue():
    assert [q.key for q in QUEUES] == list(EXPECTED)


@pytest.mark.parametrize("key", EXPECTED)
def test_each_queue_lists_exactly_its_tickets(desk, board, key):
    response = desk.get(f"/desk/?queue={key}")

    assert set(rows(response)) == {board[name].pk for name in EXPECTED[key]}


def test_the_rail_counts_every_queue(desk, board):
    response = desk.get("/desk/")

    assert counts(response) == {key: len(names) for key, names in EXPECTED.items()}
    assert set(rows(response)) == {t.pk for t in board.values()}


def test_the_rail_refreshes_its_counts_as_a_partial(desk, board, django_assert_num_queries):
    TicketFactory.create(status="new")

    # session, user, the unresolved tickets' counts, then breaching soon's and recently
    # resolved's apart
    with django_assert_num_queries(5):
        response = desk.get("/desk/rail/?queue=mine", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.strip().startswith('<nav id="queues"')
    assert "<html" not in html
    assert 'hx-trigger="every 30s"' in html
    assert counts(response)["unassigned"] == 4
    assert re.search(r'href="/desk/\?queue=mine" aria-current="page"', html)


def test_the_counts_follow_the_clock(desk, board):
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        response = desk.get("/desk/")

    assert counts(response)["recently-resolved"] == 1


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_only_the_queues_counted_apart_may_hold_a_resolved_or_closed_ticket(agent, status):
    # queue_counts reads only unresolved tickets for the queues counted together: a queue
    # that could take in a resolved or closed ticket must be counted apart.
    now = timezone.now()
    for tier in Tier.values:
        for assignee in (agent, None):
            TicketFactory.create(status=status, tier=tier, assignee=assignee, resolved_at=now)

    holding = {q.key for q in QUEUES if Ticket.objects.filter(q.condition(agent, now)).exists()}

    assert holding == {"recently-resolved"}
    assert all(QUEUES_BY_KEY[key].apart for key in holding)


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_rail_counts_from_its_two_indexes_alone(agent, board):
    # Most of a desk's tickets are closed: copies of one closed long ago.
    closed = board["closed_long_ago"]
    fields = [f for f in Ticket._meta.concrete_fields if not f.primary_key and not f.generated]
    Ticket.objects.bulk_create(
        Ticket(**{f.attname: getattr(closed, f.attname) for f in fields}) for _ in range(2000)
    )
    with CaptureQueriesContext(connection) as queries:
        queue_counts(agent)
    together, *apart = (q["sql"] for q in queries.captured_queries)

    assert "Index Only Scan using ticket_unresolved_idx" in _plan(together)
    resolved = next(sql for sql in apart if "resolved_at" in sql)
    assert "Index Only Scan using ticket_resolved_at_idx " in _plan(resolved)


# ---------------------------------------------------------------- filters


@pytest.fixture
def filterable(agent):
    gpu = CommunityFactory.create(name="GPU users", slug="gpu-users")
    return {
        "gpu_pods": open_ticket(gpu, subject="Pods stuck in pending", severity="high"),
        "gpu_quota": open_ticket(gpu, subject="Quota for the summer school", severity="low"),
        "other": open_ticket(subject="Login page is slow", severity="high"),
        "tagged": TicketFactory.create(tags=["lti", "moodle"], tier="expert", status="open"),
        "mine": TicketFactory.create(assignee=agent, status="assigned", severity="critical"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=assigned", {"mine"}),
        ("status=assigned&status=open", {"mine", "tagged"}),
        ("severity=high", {"gpu_pods", "other"}),
        ("tier=expert", {"tagged"}),
        ("community=gpu-users", {"gpu_pods", "gpu_quota"}),
        ("assignee=me", {"mine"}),
        ("assignee=none", {"gpu_pods", "gpu_quota", "other", "tagged"}),
        ("tag=moodle", {"tagged"}),
        ("q=pods", {"gpu_pods"}),
        ("q=summer+school", {"gpu_quota"}),
        ("community=gpu-users&severity=low", {"gpu_quota"}),
    ],
)
def test_filters_narrow_the_list(desk, filterable, query, expected):
    response = desk.get(f"/desk/?{query}")

    assert set(rows(response)) == {filterable[name].pk for name in expected}


def test_the_text_filter_finds_a_ticket_by_its_reference(desk, filterable):
    response = desk.get(f"/desk/?q={filterable['other'].reference.lower()}")

    assert rows(response) == [filterable["other"].pk]


def test_filters_apply_within_the_chosen_queue(desk, filterable, agent):
    response = desk.get("/desk/?queue=unassigned&severity=high")

    assert set(rows(response)) == {filterable["gpu_pods"].pk, filterable["other"].pk}


def test_filtering_by_an_agent_lists_their_tickets(desk, filterable, agent):
    response = desk.get(f"/desk/?assignee={agent.pk}")

    assert rows(response) == [filterable["mine"].pk]


# ---------------------------------------------------------------- sorting and pages


@pytest.fixture
def sortable():
    a = CommunityFactory.create(name="Alpha")
    b = CommunityFactory.create(name="beta")
    now = timezone.now()
    return [
        TicketFactory.create(community=b, subject="Zebra", severity="low", status="open",
                             created_at=now - timedelta(hours=3), updated_at=now - timedelta(hours=1)),
        TicketFactory.create(community=a, subject="apple", severity="critical", status="new",
                             created_at=now - timedelta(hours=2), updated_at=now - timedelta(hours=3)),
        TicketFactory.create(community=b, subject="Mango", severity="high", status="resolved",
                             created_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=2)),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("", [2, 1, 0]),  # newest first
        ("subject", [1, 2, 0]),
        ("-subject", [0, 2, 1]),
        ("severity", [1, 2, 0]),
        ("-severity", [0, 2, 1]),
        ("community", [1, 0, 2]),  # Alpha, then beta's two by id
        ("status", [1, 0, 2]),
        ("created", [0, 1, 2]),
        ("-updated", [0, 2, 1]),
        ("reference", [0, 1, 2]),
        ("nonsense", [2, 1, 0]),
    ],
)
def test_the_list_sorts_by_column(desk, sortable, sort, order):
    response = desk.get(f"/desk/?sort={sort}")

    assert rows(response) == [sortable[i].pk for i in order]


def test_column_headers_sort_and_say_how(desk, sortable):
    html = desk.get("/desk/?sort=severity&status=open&status=new").content.decode()

    assert re.search(
        r'<th scope="col" class="" aria-sort="ascending">\s*'
        r'<a href="\?status=open&amp;status=new&amp;sort=-severity">Severity',
        html,
    )
    assert 'href="?status=open&amp;status=new&amp;sort=subject">Subject' in html
    assert html.count("aria-sort=") == 1


def _walk(desk, url: str, *, during=None) -> list[list[int]]:
    pages = []
    while url:
        response = desk.get(url)
        pages.append(rows(response))
        if during and len(pages) == 1:
            during()
        match = re.search(r'<a href="([^"]+)" rel="next">', response.content.decode())
        url = "/desk/" + match.group(1).replace("&amp;", "&") if match else ""
    return pages


def test_pages_list_every_ticket_once_while_tickets_arrive(desk, monkeypatch):
    monkeypatch.setattr("web.desk.pages.PAGE_SIZE", 3)
    tickets = [TicketFactory.create(severity=s) for s in ["low", "high", "low"] * 3]

    pages = _walk(
        desk, "/desk/?sort=severity", during=lambda: TicketFactory.create(severity="critical")
    )

    by_rank = sorted(
        tickets, key=lambda t: (["critical", "high", "medium", "low"].index(t.severity), t.pk)
    )
    assert [len(p) for p in pages] == [3, 3, 3]
    assert sum(pages, []) == [t.pk for t in by_rank]


def test_the_previous_page_is_the_page_before(desk, monkeypatch):
    monkeypatch.setattr("web.desk.pages.PAGE_SIZE", 2)
    tickets = [TicketFactory.create(subject=f"Subject {i}") for i in range(5)]
    first = desk.get("/desk/?sort=subject")
    second_url = found(r'<a href="([^"]+)" rel="next">', first.content.decode()).group(1)
    second = desk.get("/desk/" + second_url.replace("&amp;", "&"))
    previous_url = found(r'<a href="([^"]+)" rel="prev">', second.content.decode()).group(1)

    previous = desk.get("/desk/" + previous_url.replace("&amp;", "&"))

    assert rows(second) == [tickets[2].pk, tickets[3].pk]
    assert rows(previous) == rows(first) == [tickets[0].pk, tickets[1].pk]
    assert 'rel="prev"' not in first.content.decode()


def test_a_damaged_cursor_shows_the_first_page(desk, sortable):
    response = desk.get("/desk/?cursor=not-a-cursor&sort=subject")

    assert rows(response) == [sortable[1].pk, sortable[2].pk, sortable[0].pk]


def _queue_queries(desk, how_many: int) -> int:
    community = CommunityFactory.create()
    agents = AgentFactory.create_batch(2)
    for i in range(how_many):
        TicketFactory.create(community=community, assignee=agents[i % 2], tags=["x"])
    with CaptureQueriesContext(connection) as queries:
        response = desk.get("/desk/?sort=-severity&status=new")
    assert len(rows(response)) == how_many
    return len(queries)


@pytest.mark.parametrize("how_many", [3, 40])
def test_the_queue_page_takes_ten_queries_however_many_tickets_it_shows(desk, how_many):
    # session, user, communities, agents (read afresh on every page in tests, kept a few
    # seconds otherwise: settings.DESK_AGENT_LIST_SECONDS), the page of tickets, the page's SLA
    # badges, the counts (three), saved filters
    assert _queue_queries(desk, how_many) == 10


# ---------------------------------------------------------------- bulk actions


def _bulk(desk, tickets, **data):
    return desk.post("/desk/bulk/?queue=unassigned", {"tickets": [t.pk for t in tickets], **data})


def test_bulk_assign_gives_exactly_the_selected_tickets_to_an_agent(desk, agent):
    colleague = AgentFactory.create()
    chosen = [open_ticket(), open_ticket()]
    left = open_ticket()

    response = _bulk(desk, chosen, action="assign", assignee=colleague.pk)

    assert (response.status_code, response["Location"]) == (302, "/desk/?queue=unassigned")
    assert [(t.assignee, t.status) for t in Ticket.objects.filter(pk__in=[c.pk for c in chosen])] == [
        (colleague, "assigned"), (colleague, "assigned")
    ]  # fmt: skip
    left.refresh_from_db()
    assert left.assignee is None
    assert TicketEvent.objects.filter(kind="assigned", actor=agent).count() == 2
    assert notices(response) == [
        f"Assigned to {colleague.display_name}: 2 ticket(s) ({chosen[0].reference}, {chosen[1].reference})."
    ]


def test_bulk_assign_to_me(desk, agent):
    chosen = open_ticket()

    _bulk(desk, [chosen], action="assign", assignee="me")

    chosen.refresh_from_db()
    assert chosen.assignee == agent


def test_bulk_status_changes_what_it_can_and_reports_each_refusal(desk, agent):
    working = open_ticket()
    closed = TicketFactory.create(status="closed")
    untouched = open_ticket()

    response = _bulk(desk, [working, closed], action="transition", transition="resolve")

    assert [Ticket.objects.get(pk=t.pk).status for t in (working, closed, untouched)] == [
        "resolved",
        "closed",
        "new",
    ]
    assert notices(response) == [
        f"Resolve: 1 ticket(s) ({working.reference}).",
        f"{closed.reference} was not changed: Cannot resolve a ticket that is closed.",
    ]
    assert TicketEvent.objects.filter(kind="status_changed").count() == 1


def test_bulk_severity_is_set_through_the_service_and_audited(desk, agent):
    chosen, left = open_ticket(severity="low"), open_ticket(severity="low")

    _bulk(desk, [chosen], action="severity", severity="critical")

    assert [Ticket.objects.get(pk=t.pk).severity for t in (chosen, left)] == ["critical", "low"]
    assert TicketEvent.objects.get(kind="updated").data == {
        "changes": {"severity": ["low", "critical"]}
    }


def test_bulk_refuses_an_unknown_agent_beside_the_field(desk):
    chosen = open_ticket()
    before = snapshot()

    response = _bulk(desk, [chosen], action="assign", assignee=999999)

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "bulk_assignee") == [
        "Select a valid choice. 999999 is not one of the available choices."
    ]
    assert (
        f'id="select-{chosen.pk}" aria-label="Select {chosen.reference}" checked'
        in response.content.decode()
    )
    assert snapshot() == before


def test_bulk_without_a_selection_or_a_value_says_so(desk):
    chosen = open_ticket()
    before = snapshot()

    nothing = desk.post("/desk/bulk/", {"action": "assign", "assignee": "me"})
    no_status = _bulk(desk, [chosen], action="transition", transition="")

    assert nothing.status_code == no_status.status_code == 400
    assert "Select at least one ticket." in nothing.content.decode()
    assert field_errors(no_status.content.decode(), "bulk_transition") == ["Choose a value."]
    assert snapshot() == before


def test_bulk_cannot_reach_a_transition_that_needs_a_reason(desk):
    waiting = open_ticket()
    before = snapshot()

    response = _bulk(desk, [waiting], action="transition", transition="decline")

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "bulk_transition") == [
        "Select a valid choice. decline is not one of the available choices."
    ]
    assert snapshot() == before


# ---------------------------------------------------------------- saved filters


def test_an_agent_saves_the_current_filters_under_a_name(desk, agent):
    response = desk.post(
        "/desk/filters/?status=new&status=open&assignee=me&tag=gpu&queue=mine&sort=subject",
        {"name": "  My open GPU work ", "shared": "on"},
    )

    saved = SavedFilter.objects.get()
    assert (saved.owner, saved.name, saved.shared) == (agent, "My open GPU work", True)
    assert saved.params == {"status": ["new", "open"], "assignee": "me", "tag": "gpu"}
    assert response["Location"] == "/desk/?status=new&status=open&assignee=me&tag=gpu"
    assert notices(response) == ["Saved the filter “My open GPU work”."]


def test_the_rail_lists_my_filters_and_those_shared_with_me(desk, agent):
    colleague = AgentFactory.create(first_name="Sam", last_name="Berg")
    saved_filter_create(owner=agent, name="Mine private", params={"assignee": "me"})
    saved_filter_create(owner=colleague, name="Sam shared", params={"tag": "gpu"}, shared=True)
    saved_filter_create(owner=colleague, name="Sam private", params={"tag": "x"})

    html = desk.get("/desk/?tag=gpu").content.decode()

    rail = html[html.index('<ul class="saved-filters"') :]
    assert re.findall(
        r'<a href="/desk/\?([^"]*)"(?: aria-current="page")?>\s*<span>([^<]+?)\s*<', rail
    ) == [
        ("assignee=me", "Mine private"),
        ("tag=gpu", "Sam shared"),
    ]
    assert '<a href="/desk/?tag=gpu" aria-current="page">' in html
    assert "by Sam Berg" in html
    assert html.count('aria-label="Delete the filter') == 1


def test_an_agent_deletes_their_own_filter_but_not_a_colleagues(desk, agent):
    mine = saved_filter_create(owner=agent, name="Mine", params={"assignee": "me"})
    theirs = saved_filter_create(
        owner=AgentFactory.create(), name="Theirs", params={"tag": "x"}, shared=True
    )

    refused = desk.post(f"/desk/filters/{theirs.pk}/delete/")
    deleted = desk.post(f"/desk/filters/{mine.pk}/delete/")

    assert refused.status_code == 404
    assert (deleted.status_code, deleted["Location"]) == (302, "/desk/")
    assert list(SavedFilter.objects.all()) == [theirs]


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "This field is required."), ("Taken", "You already have a filter called “Taken”.")],
)
def test_a_filter_needs_a_name_of_its_own(desk, agent, name, error):
    saved_filter_create(owner=agent, name="Taken", params={"tag": "a"})
    before = snapshot()

    response = desk.post("/desk/filters/?tag=b", {"name": name})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "save_name") == [error]
    assert snapshot() == before


def test_saving_without_any_filter_says_what_is_missing(desk):
    before = snapshot()

    response = desk.post("/desk/filters/?queue=mine&sort=subject", {"name": "Nothing"})

    assert response.status_code == 400
    assert re.search(
        r'<div class="form-errors" role="alert">\s*<p>Choose at least one filter to save.</p>',
        response.content.decode(),
    )
    assert snapshot() == before
