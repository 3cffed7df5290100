import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.tickets.factories import TicketFactory
from tests.web.portal.conftest import open_request
from web.portal.place import SESSION_KEY

pytestmark = pytest.mark.django_db


def _references(response) -> list[str]:
    return [t.reference for t in response.context["page"].object_list]


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/portal/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/portal/")


def test_a_member_sees_only_their_own_requests(as_user, community, member, representative):
    own = open_request(community, member, subject="Mine")
    open_request(community, representative, subject="The representative's")

    response = as_user(member).get("/portal/")

    assert response.status_code == 200
    assert _references(response) == [own.reference]
    assert "The representative&#x27;s" not in response.content.decode()
    assert response.context["awaiting"] == []
    assert b"Waiting for your approval" not in response.content


def test_a_representative_sees_all_of_the_communitys_requests_and_what_awaits_approval(
    as_user, community, member, representative
):
    waiting = open_request(community, member, subject="Please add me to the course")
    own = open_request(community, representative, subject="Quota")
    TicketFactory.create(subject="Elsewhere")  # another community

    response = as_user(representative).get("/portal/")

    assert _references(response) == [own.reference, waiting.reference]
    assert response.context["awaiting"] == [waiting]
    html = response.content.decode()
    assert "Waiting for your approval" in html
    assert "Please add me to the course" in html
    assert "Elsewhere" not in html


def test_the_list_shows_reference_subject_badges_and_last_update(as_user, community, member):
    ticket = open_request(community, member, subject="Kernel dies", severity="high")

    html = as_user(member).get("/portal/").content.decode()

    assert f'<a href="/portal/tickets/{ticket.reference}/">{ticket.reference}</a>' in html
    assert "Kernel dies" in html
    assert '<span class="badge badge-status-awaiting_approval">Awaiting approval</span>' in html
    assert '<span class="badge badge-severity-high">High (P2)</span>' in html
    assert f'<time datetime="{ticket.updated_at.isoformat()}"' in html


def test_resolved_and_closed_requests_have_their_own_tab(as_user, community, representative):
    open_ticket = open_request(community, representative, subject="Still open")
    resolved = TicketFactory.create(
        community=community, requester=representative, status="resolved"
    )
    closed = TicketFactory.create(community=community, requester=representative, status="closed")
    client = as_user(representative)

    assert _references(client.get("/portal/")) == [open_ticket.reference]
    assert _references(client.get("/portal/?show=closed")) == [closed.reference, resolved.reference]


def test_only_the_current_communitys_requests_are_listed(as_user, community, representative):
    other = CommunityFactory.create(name="Other hub")
    MembershipFactory.create(community=other, user=representative, role="member")
    here = open_request(community, representative, subject="Here")
    there = open_request(other, representative, subject="There")
    client = as_user(representative)

    first = client.get("/portal/")
    switched = client.post("/portal/community/", {"community": other.slug})
    second = client.get("/portal/")

    assert first.context["place"].community == community  # the first by name until switched
    assert _references(first) == [here.reference]
    assert (switched.status_code, switched["Location"]) == (302, "/portal/")
    assert client.session[SESSION_KEY] == other.pk
    assert _references(second) == [there.reference]
    assert second.context["place"].is_representative is False
    assert b"Waiting for your approval" not in second.content


def test_the_switcher_lists_only_the_users_communities(as_user, community, representative):
    other = CommunityFactory.create(name="Zebra hub")
    CommunityFactory.create(name="Not mine")
    MembershipFactory.create(community=other, user=representative)

    html = as_user(representative).get("/portal/").content.decode()

    assert f'<option value="{community.slug}" selected>{community.name}</option>' in html
    assert f'<option value="{other.slug}">Zebra hub</option>' in html
    assert "Not mine" not in html


def test_someone_in_one_community_sees_its_name_and_no_switcher(as_user, community, member):
    html = as_user(member).get("/portal/").content.decode()

    assert 'name="community"' not in html
    assert f'<span class="visually-hidden">Community: </span>{community.name}' in html
    assert 'href="/portal/approvals/"' not in html


def test_the_approvals_link_is_only_for_representatives(as_user, representative):
    assert b'href="/portal/approvals/"' in as_user(representative).get("/portal/").content


def test_someone_in_no_community_is_told_so(as_user, stranger):
    response = as_user(stranger).get("/portal/")

    assert response.status_code == 200
    assert b"You are not in a community yet" in response.content
    assert response.context["page"] is None


def test_a_tab_asked_for_by_htmx_returns_only_the_list(as_user, community, representative):
    TicketFactory.create(community=community, requester=representative, status="closed")

    response = as_user(representative).get(
        "/portal/?show=closed", headers={"HX-Request": "true", "HX-Target": "requests"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'aria-current="page">Resolved and closed</a>' in html
    assert "HX-Request" in response["Vary"]


def test_long_lists_come_in_pages_of_20(as_user, community, representative):
    tickets = [open_request(community, representative) for _ in range(21)]
    client = as_user(representative)

    first = client.get("/portal/")
    second = client.get("/portal/?show=open&page=2")

    assert _references(first) == [t.reference for t in reversed(tickets[1:])]
    assert _references(second) == [tickets[0].reference]
    assert 'href="?show=open&amp;page=2"' in first.content.decode()
    assert "Page 1 of 2" in first.content.decode()


def _count_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/portal/").status_code == 200
    return len(queries)


def test_the_home_page_takes_the_same_queries_for_2_or_20_requests(
    as_user, community, representative, member
):
    client = as_user(representative)
    for _ in range(2):
        open_request(community, member)
    few = _count_queries(client)
    for _ in range(18):
        open_request(community, member)

    # session, user, roles, communities, roles (ticket_scope), count, page, awaiting approval,
    # and the incident banner's two (active incidents, their latest public updates)
    assert _count_queries(client) == few == 10
