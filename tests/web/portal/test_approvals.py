import pytest

from tests.communities.factories import MembershipFactory
from tests.tickets.factories import TicketFactory
from tests.web.portal.conftest import open_request, snapshot
from tickets.services.lifecycle import ticket_transition

pytestmark = pytest.mark.django_db


def test_a_representative_sees_the_communitys_requests_awaiting_approval(
    as_user, community, member, representative
):
    first = open_request(community, member, subject="Add a GPU")
    second = open_request(community, member, subject="Workshop on Friday")
    open_request(community, representative, subject="Already open")
    TicketFactory.create(status="awaiting_approval", subject="Another community's")

    response = as_user(representative).get("/portal/approvals/")

    assert response.status_code == 200
    assert [row["ticket"] for row in response.context["rows"]] == [first, second]
    html = response.content.decode()
    assert "Already open" not in html
    assert "Another community" not in html
    assert f"Approve {first.reference}</button>" in html
    assert (
        f'<textarea name="note" cols="40" rows="2" aria-describedby="id_note_{first.pk}_helptext"'
        in html
    )


def test_approving_from_the_approvals_page(as_user, community, member, representative):
    ticket = open_request(community, member)

    response = as_user(representative).post(
        f"/portal/tickets/{ticket.reference}/transition/",
        {"name": "approve", "return_to": "approvals"},
        follow=True,
    )

    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert response.redirect_chain == [("/portal/approvals/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"{ticket.reference} is approved and goes to the support team."
    ]
    assert response.context["rows"] == []


def test_declining_from_the_approvals_page_needs_a_reason(
    as_user, community, member, representative
):
    ticket = open_request(community, member)
    other = open_request(community, member)
    before = snapshot()

    response = as_user(representative).post(
        f"/portal/tickets/{ticket.reference}/transition/",
        {"name": "decline", "note": "", "return_to": "approvals"},
    )

    assert response.status_code == 400
    forms = {row["ticket"]: row["decline_form"] for row in response.context["rows"]}
    assert forms[ticket].errors == {"note": ["Say why, for the requester."]}
    assert forms[other].errors == {}
    assert (
        f'<small id="id_note_{ticket.pk}_error" class="error" role="alert">'
        "Say why, for the requester.</small>" in response.content.decode()
    )
    assert snapshot() == before


def test_declining_with_a_reason_closes_the_request(as_user, community, member, representative):
    ticket = open_request(community, member)

    response = as_user(representative).post(
        f"/portal/tickets/{ticket.reference}/transition/",
        {"name": "decline", "note": "Ask in the forum", "return_to": "approvals"},
    )

    ticket.refresh_from_db()
    assert (response.status_code, response["Location"]) == (302, "/portal/approvals/")
    assert ticket.status == "closed"
    assert ticket.events.get(kind="status_changed").data["note"] == "Ask in the forum"


def test_a_request_someone_else_answered_first_is_reported_at_the_top(
    as_user, community, member, representative, agent
):
    ticket = open_request(community, member)
    ticket_transition(ticket=ticket, name="approve", actor=agent)
    before = snapshot()

    response = as_user(representative).post(
        f"/portal/tickets/{ticket.reference}/transition/",
        {"name": "decline", "note": "No", "return_to": "approvals"},
    )

    assert response.status_code == 400
    assert (
        f"<p>{ticket.reference}: Cannot decline a ticket that is open.</p>"
        in response.content.decode()
    )
    assert snapshot() == before


def test_only_representatives_have_an_approvals_page(as_user, community, member, stranger):
    assert as_user(member).get("/portal/approvals/").status_code == 404
    assert as_user(stranger).get("/portal/approvals/").status_code == 404


def test_the_approvals_page_follows_the_current_community(as_user, community):
    person = MembershipFactory.create(community=community, role="member").user
    elsewhere = MembershipFactory.create(user=person, role="representative").community
    client = as_user(person)

    client.post("/portal/community/", {"community": community.slug})
    as_member = client.get("/portal/approvals/")
    client.post("/portal/community/", {"community": elsewhere.slug})
    as_representative = client.get("/portal/approvals/")

    assert (as_member.status_code, as_representative.status_code) == (404, 200)
