import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communities.models import Membership
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def _body(community, **overrides):
    return {
        "community": community.slug,
        "subject": "GPU nodes",
        "description": "Pods pending",
        **overrides,
    }


def test_a_representative_opens_a_ticket_through_the_api(api_as, community, representative):
    response = api_as(representative).post(
        TICKETS, _body(community, severity="high"), format="json"
    )

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert response.json() | {
        "created_at": None,
        "updated_at": None,
        "status_changed_at": None,
    } == {
        "reference": ticket.reference,
        "id": ticket.pk,
        "url": f"/api/v1/tickets/{ticket.reference}/",
        "community": {"slug": community.slug, "name": community.name},
        "requester": {"id": representative.pk, "name": representative.display_name},
        "subject": "GPU nodes",
        "description": "Pods pending",
        "kind": "question",
        "severity": "high",
        "tier": "self_service",
        "status": "new",
        "category": None,
        "assignee": None,
        "channel": "api",
        "tags": [],
        "created_at": None,
        "updated_at": None,
        "status_changed_at": None,
        "first_responded_at": None,
        "resolved_at": None,
        "closed_at": None,
        "merged_into": None,
        "satisfaction": None,
        "sla": {"first_response": None, "next_update": None, "resolution": None},
    }


def test_a_members_request_waits_for_approval(api_as, community, member):
    response = api_as(member).post(TICKETS, _body(community), format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "awaiting_approval"


def test_missing_fields_get_400_with_stable_codes_and_nothing_is_created(
    api_as, community, representative
):
    response = api_as(representative).post(
        TICKETS, {"community": community.slug, "severity": "urgent"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert sorted((e["attr"], e["code"]) for e in body["errors"]) == [
        ("description", "required"),
        ("severity", "invalid_choice"),
        ("subject", "required"),
    ]
    assert not Ticket.objects.exists()


def test_a_blank_subject_is_refused_by_the_service_with_a_field_error(
    api_as, community, representative
):
    response = api_as(representative).post(TICKETS, _body(community, subject="   "), format="json")

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("subject", "blank")]


@pytest.mark.parametrize("slug_of", ["another community", "no community"])
def test_opening_a_ticket_for_a_community_you_are_not_in_is_refused(
    api_as, representative, slug_of
):
    slug = CommunityFactory.create().slug if slug_of == "another community" else "nope"

    response = api_as(representative).post(TICKETS, {**_body_slug(slug)}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "does_not_exist", "detail": "No such community.", "attr": "community"}
    ]
    assert not Ticket.objects.exists()


def _body_slug(slug):
    return {"community": slug, "subject": "s", "description": "d"}


def test_an_agent_opens_a_ticket_on_a_members_behalf(api_as, community, member, agent):
    response = api_as(agent).post(TICKETS, _body(community, requester=member.email), format="json")

    assert response.status_code == 201
    assert response.json()["requester"]["id"] == member.pk
    assert response.json()["status"] == "awaiting_approval"


def test_anonymous_requests_are_refused(api_as, community):
    assert api_as(None).get(TICKETS).status_code == 401
    assert api_as(None).post(TICKETS, _body(community), format="json").status_code == 401


# ---------------------------------------------------------------- idempotency


def test_a_repeated_idempotency_key_returns_the_first_response_without_creating_twice(
    api_as, community, representative
):
    client = api_as(representative)
    first = client.post(TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = client.post(TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1


def test_the_same_key_with_a_different_body_is_a_conflict(api_as, community, representative):
    client = api_as(representative)
    client.post(TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    response = client.post(
        TICKETS, _body(community, subject="Other"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Ticket.objects.count() == 1


def test_a_refused_request_does_not_use_up_its_key(api_as, community, representative):
    client = api_as(representative)
    bad = client.post(
        TICKETS, _body(community, subject=""), format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    good = client.post(TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert Ticket.objects.count() == 1


def test_keys_belong_to_their_user(api_as, community, representative):
    other = MembershipFactory.create(community=community, role="representative").user
    api_as(representative).post(
        TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )

    response = api_as(other).post(
        TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Ticket.objects.count() == 2


def test_an_overlong_key_is_refused(api_as, community, representative):
    response = api_as(representative).post(
        TICKETS, _body(community), format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "idempotency_key_invalid"
    assert not Ticket.objects.exists()


# ---------------------------------------------------------------- list and filters


def _references(response):
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["results"]]


def test_who_sees_which_tickets(api_as, community):
    representative = MembershipFactory.create(community=community, role="representative").user
    member = MembershipFactory.create(community=community, role="member").user
    own = TicketFactory.create(community=community, requester=member)
    colleagues = TicketFactory.create(community=community)
    elsewhere = TicketFactory.create()

    assert _references(api_as(member).get(TICKETS)) == [own.reference]
    assert _references(api_as(representative).get(TICKETS)) == [colleagues.reference, own.reference]
    assert _references(api_as(AgentFactory.create()).get(TICKETS)) == [
        elsewhere.reference, colleagues.reference, own.reference,
    ]  # fmt: skip


def test_a_former_member_no_longer_sees_their_tickets(api_as, community, member):
    TicketFactory.create(community=community, requester=member)
    Membership.objects.filter(user=member).delete()

    assert _references(api_as(member).get(TICKETS)) == []


def test_filters(api_as, community, agent):
    other = CommunityFactory.create()
    critical = TicketFactory.create(
        community=community, severity="critical", status="open", subject="Database outage",
        tags=["outage"],
    )  # fmt: skip
    mine = TicketFactory.create(
        community=community, severity="low", status="in_progress", assignee=agent
    )
    elsewhere = TicketFactory.create(community=other, severity="critical", status="new")
    client = api_as(agent)

    assert _references(client.get(TICKETS, {"severity": "critical"})) == [
        elsewhere.reference,
        critical.reference,
    ]
    assert _references(client.get(TICKETS, {"status": ["open", "new"]})) == [
        elsewhere.reference,
        critical.reference,
    ]
    assert _references(client.get(TICKETS, {"community": other.slug})) == [elsewhere.reference]
    assert _references(client.get(TICKETS, {"assignee": "me"})) == [mine.reference]
    assert _references(client.get(TICKETS, {"assignee": "none"})) == [
        elsewhere.reference,
        critical.reference,
    ]
    assert _references(client.get(TICKETS, {"assignee": str(agent.pk)})) == [mine.reference]
    assert _references(client.get(TICKETS, {"q": "outages"})) == [critical.reference]
    assert _references(client.get(TICKETS, {"q": critical.reference.lower()})) == [
        critical.reference
    ]
    assert _references(client.get(TICKETS, {"tag": "Outage"})) == [critical.reference]
    assert _references(client.get(TICKETS, {"tier": "emergency"})) == []


def test_created_range_filter(api_as, agent):
    old = TicketFactory.create(created_at="2026-01-10T12:00:00Z")
    new = TicketFactory.create(created_at="2026-03-10T12:00:00Z")
    client = api_as(agent)

    assert _references(client.get(TICKETS, {"created_after": "2026-02-01T00:00:00Z"})) == [
        new.reference
    ]
    assert _references(client.get(TICKETS, {"created_before": "2026-02-01T00:00:00Z"})) == [
        old.reference
    ]


def test_a_bad_filter_value_is_a_400(api_as, agent):
    response = api_as(agent).get(TICKETS, {"status": "exploded"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "status"


def test_cursor_pagination_walks_every_ticket_once(api_as, agent):
    tickets = TicketFactory.create_batch(7)
    client = api_as(agent)
    seen, url = [], f"{TICKETS}?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["reference"] for row in body["results"]]
        url = body["next"]

    assert seen == [t.reference for t in sorted(tickets, key=lambda t: -t.pk)]


@pytest.mark.parametrize(("who", "queries"), [("agent", 3), ("representative", 4)])
def test_the_ticket_list_takes_the_same_queries_whatever_the_page_size(
    api_as, community, who, queries
):
    user = (
        AgentFactory.create()
        if who == "agent"
        else MembershipFactory.create(community=community, role="representative").user
    )
    agent = AgentFactory.create()

    def queries_for(count):
        Ticket.objects.all().delete()
        for _ in range(count):
            TicketFactory.create(community=community, assignee=agent)
        client = api_as(user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(TICKETS, {"page_size": 50})
        assert len(response.json()["results"]) == count
        return len(captured)

    # the token and its user, (for members) their memberships, one query for the page and one
    # for the page's SLA clocks (the `sla` block, settings.TICKET_PAYLOAD_EXTENSIONS)
    assert queries_for(2) == queries_for(40) == queries


# ---------------------------------------------------------------- one ticket


def test_a_ticket_is_found_by_its_reference_in_any_spelling(api_as, agent):
    ticket = TicketFactory.create()
    client = api_as(agent)

    for spelling in (ticket.reference, ticket.reference.lower(), str(ticket.pk)):
        response = client.get(f"{TICKETS}{spelling}/")
        assert response.status_code == 200
        assert response.json()["reference"] == ticket.reference


def test_not_found_and_not_yours_read_the_same(api_as, outsider):
    ticket = TicketFactory.create()
    client = api_as(outsider)

    theirs = client.get(f"{TICKETS}{ticket.reference}/")
    missing = client.get(f"{TICKETS}SD-99999999/")
    garbage = client.get(f"{TICKETS}not-a-ref/")

    assert theirs.status_code == missing.status_code == garbage.status_code == 404
    assert theirs.json() == missing.json() == garbage.json()


def test_an_agent_updates_fields_and_assigns(api_as, agent):
    ticket = TicketFactory.create(status="open")
    other_agent = AgentFactory.create()

    response = api_as(agent).patch(
        f"{TICKETS}{ticket.reference}/",
        {"severity": "critical", "tags": ["Outage"], "assignee": other_agent.pk},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["severity"], response.json()["tags"], response.json()["status"]) == (
        "critical", ["outage"], "assigned",
    )  # fmt: skip
    assert response.json()["assignee"] == {"id": other_agent.pk, "name": other_agent.display_name}


def test_assigning_to_someone_who_is_not_an_agent_is_a_field_error(api_as, agent, member):
    ticket = TicketFactory.create(status="open")

    response = api_as(agent).patch(
        f"{TICKETS}{ticket.reference}/", {"assignee": member.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "assignee"
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_a_representative_cannot_change_fields(api_as, community, representative):
    ticket = TicketFactory.create(community=community, severity="low")

    response = api_as(representative).patch(
        f"{TICKETS}{ticket.reference}/", {"severity": "critical"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    ticket.refresh_from_db()
    assert ticket.severity == "low"


# ---------------------------------------------------------------- transitions


def test_the_transitions_you_may_apply_now(api_as, community, member, representative):
    ticket = TicketFactory.create(community=community, requester=member, status="awaiting_approval")

    as_rep = api_as(representative).get(f"{TICKETS}{ticket.reference}/transitions/").json()
    as_member = api_as(member).get(f"{TICKETS}{ticket.reference}/transitions/").json()

    assert [(t["name"], t["target"], t["requires_reason"]) for t in as_rep] == [
        ("approve", "open", False),
        ("decline", "closed", True),
    ]
    assert as_member == []


def test_a_representative_approves(api_as, community, member, representative):
    ticket = TicketFactory.create(community=community, requester=member, status="awaiting_approval")

    response = api_as(representative).post(
        f"{TICKETS}{ticket.reference}/transitions/", {"transition": "approve"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "open"


@pytest.mark.parametrize(
    ("status", "payload", "code", "error"),
    [
        ("closed", {"transition": "resolve"}, 409, ("invalid_transition", None)),
        ("in_progress", {"transition": "explode"}, 400, ("invalid_choice", "transition")),
        ("in_progress", {"transition": "assign"}, 400, ("invalid_choice", "transition")),
        ("awaiting_approval", {"transition": "decline"}, 400, ("reason_required", "note")),
    ],
)
def test_transition_errors(api_as, agent, status, payload, code, error):
    ticket = TicketFactory.create(status=status)

    response = api_as(agent).post(
        f"{TICKETS}{ticket.reference}/transitions/", payload, format="json"
    )

    assert response.status_code == code
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [error]
    ticket.refresh_from_db()
    assert ticket.status == status


def test_a_member_may_not_resolve(api_as, community, member):
    ticket = TicketFactory.create(community=community, requester=member, status="in_progress")

    response = api_as(member).post(
        f"{TICKETS}{ticket.reference}/transitions/", {"transition": "resolve"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "transition_not_allowed"


def test_the_audit_trail_hides_internal_notes_from_members(api_as, community, member, agent):
    from tickets.services.conversation import message_add

    ticket = TicketFactory.create(community=community, requester=member, status="in_progress")
    message_add(ticket=ticket, author=agent, body="secret", kind="internal")
    message_add(ticket=ticket, author=agent, body="hello", kind="public")

    as_member = api_as(member).get(f"{TICKETS}{ticket.reference}/events/").json()["results"]
    as_agent = api_as(agent).get(f"{TICKETS}{ticket.reference}/events/").json()["results"]

    assert [e["data"]["kind"] for e in as_member] == ["public"]
    assert [e["data"]["kind"] for e in as_agent] == ["internal", "public"]


# ---------------------------------------------------------------- authentication and limits


def test_clients_over_their_rate_are_told_when_to_come_back(api_as, agent, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    cache.clear()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    client = api_as(agent)

    codes = [client.get(TICKETS).status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    refused = client.get(TICKETS)
    assert refused.json()["errors"][0]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60


def test_a_browser_session_works_and_needs_the_csrf_token_to_write(community, representative):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(representative)

    assert client.get(TICKETS).status_code == 200
    refused = client.post(TICKETS, _body(community), format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"
    assert not Ticket.objects.exists()
