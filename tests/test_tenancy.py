"""Every endpoint, asked by someone outside the community: 404, and nothing changed."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from communities.models import Community, Membership, SupportBudget, TimeEntry
from core.models import Event, IdempotencyRecord
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.api.test_attachments_api import PNG
from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.services.attachments import attachment_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative")
    member = MembershipFactory.create(community=community, role="member")
    agent = AgentFactory.create()
    ticket = TicketFactory.create(
        community=community, requester=member.user, status="awaiting_approval",
        subject="Quarterly genome pipeline fails",
    )  # fmt: skip
    public = MessageFactory.create(ticket=ticket, author=member.user, body="It fails at step 3")
    MessageFactory.create(ticket=ticket, author=agent, body="internal", kind="internal")
    attachment = attachment_add(
        ticket=ticket,
        uploaded_by=member.user,
        upload=SimpleUploadedFile("a.png", PNG),
        message=public,
    )
    entry = TimeEntry.objects.create(ticket=ticket, community=community, agent=agent, minutes=20)
    SupportBudget.objects.create(community=community, hours=Decimal("5"), period="month")
    return {
        "community": community,
        "ticket": ticket,
        "member": member,
        "representative": representative,
        "attachment": attachment,
        "entry": entry,
    }


def snapshot():
    ticket_rows = list(
        Ticket.objects.order_by("pk").values_list(
            "status", "severity", "assignee", "subject", "tags"
        )
    )
    return {
        "tickets": ticket_rows,
        "messages": Message.objects.count(),
        "attachments": Attachment.objects.count(),
        "ticket_events": TicketEvent.objects.count(),
        "events": Event.objects.count(),
        "time_entries": TimeEntry.objects.count(),
        "memberships": sorted(Membership.objects.values_list("pk", "role")),
        "communities": sorted(Community.objects.values_list("pk", "name", "active")),
        "budgets": sorted(SupportBudget.objects.values_list("community", "hours", "period")),
        "idempotency": IdempotencyRecord.objects.count(),
    }


def _upload():
    return {"file": SimpleUploadedFile("b.png", PNG)}


# (method, path, body, format); {ref}, {slug}, {attachment}, {entry}, {membership} are filled in.
ENDPOINTS = [
    ("get", "/api/v1/tickets/{ref}/", None, None),
    ("patch", "/api/v1/tickets/{ref}/", {"severity": "critical"}, "json"),
    ("get", "/api/v1/tickets/{ref}/transitions/", None, None),
    ("post", "/api/v1/tickets/{ref}/transitions/", {"transition": "approve"}, "json"),
    ("post", "/api/v1/tickets/{ref}/transitions/", {"transition": "decline", "note": "no"}, "json"),
    ("get", "/api/v1/tickets/{ref}/events/", None, None),
    ("get", "/api/v1/tickets/{ref}/messages/", None, None),
    ("post", "/api/v1/tickets/{ref}/messages/", {"body": "let me in"}, "json"),
    ("get", "/api/v1/tickets/{ref}/attachments/", None, None),
    ("post", "/api/v1/tickets/{ref}/attachments/", _upload, "multipart"),
    ("get", "/api/v1/tickets/{ref}/time-entries/", None, None),
    ("post", "/api/v1/tickets/{ref}/time-entries/", {"minutes": 5}, "json"),
    ("get", "/api/v1/attachments/{attachment}/", None, None),
    ("get", "/api/v1/attachments/{attachment}/download/", None, None),
    ("get", "/api/v1/time-entries/{entry}/", None, None),
    ("delete", "/api/v1/time-entries/{entry}/", None, None),
    ("get", "/api/v1/communities/{slug}/", None, None),
    ("patch", "/api/v1/communities/{slug}/", {"name": "Taken over"}, "json"),
    ("get", "/api/v1/communities/{slug}/budget/", None, None),
    ("put", "/api/v1/communities/{slug}/budget/", {"hours": "99", "period": "year"}, "json"),
    ("get", "/api/v1/memberships/{membership}/", None, None),
    ("patch", "/api/v1/memberships/{membership}/", {"role": "member"}, "json"),
    ("delete", "/api/v1/memberships/{membership}/", None, None),
]


def _call(client, world, method, path, body, fmt, **headers):
    url = path.format(
        ref=world["ticket"].reference,
        slug=world["community"].slug,
        attachment=world["attachment"].pk,
        entry=world["entry"].pk,
        membership=world["representative"].pk,
    )
    data = body() if callable(body) else body
    return getattr(client, method)(url, data, format=fmt, **headers)


@pytest.mark.parametrize(
    ("method", "path", "body", "fmt"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_another_communitys_member_gets_404_and_nothing_changes(
    api_as, world, method, path, body, fmt
):
    outsider = MembershipFactory.create(role="representative").user
    before = snapshot()

    response = _call(api_as(outsider), world, method, path, body, fmt, HTTP_IDEMPOTENCY_KEY="try-1")

    assert response.status_code == 404, response.content
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }
    assert snapshot() == before


TICKET_ENDPOINTS = [e for e in ENDPOINTS if "{ref}" in e[1] or "{attachment}" in e[1]]


@pytest.mark.parametrize(
    ("method", "path", "body", "fmt"),
    TICKET_ENDPOINTS,
    ids=[f"{m} {p}" for m, p, _, _ in TICKET_ENDPOINTS],
)
def test_a_member_gets_404_for_another_members_ticket(api_as, world, method, path, body, fmt):
    colleague = MembershipFactory.create(community=world["community"], role="member").user
    before = snapshot()

    response = _call(api_as(colleague), world, method, path, body, fmt)

    assert response.status_code == 404
    assert snapshot() == before


def test_lists_and_searches_leave_other_communities_out(api_as, world):
    outsider = MembershipFactory.create(role="representative").user
    TicketFactory.create(community=outsider.memberships.get().community, requester=outsider)
    client = api_as(outsider)

    tickets = client.get("/api/v1/tickets/").json()["results"]
    found = client.get("/api/v1/tickets/", {"q": "genome pipeline"}).json()["results"]
    by_reference = client.get("/api/v1/tickets/", {"q": world["ticket"].reference}).json()[
        "results"
    ]
    by_slug = client.get("/api/v1/tickets/", {"community": world["community"].slug}).json()[
        "results"
    ]
    communities = client.get("/api/v1/communities/").json()
    memberships = client.get("/api/v1/memberships/").json()["results"]
    entries = client.get("/api/v1/time-entries/").json()["results"]

    assert [t["community"]["slug"] for t in tickets] == [outsider.memberships.get().community.slug]
    assert found == by_reference == by_slug == entries == []
    assert [c["slug"] for c in communities] == [outsider.memberships.get().community.slug]
    assert [m["user"]["id"] for m in memberships] == [outsider.pk]


def test_an_agent_sees_all_of_it(api_as, world):
    agent = AgentFactory.create()
    client = api_as(agent)

    for method, path, body, fmt in ENDPOINTS:
        if method == "get":
            assert _call(client, world, method, path, body, fmt).status_code == 200, path
