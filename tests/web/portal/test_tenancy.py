"""No portal page shows or changes another community's data: "not yours" is a 404, and
nothing changes."""

from typing import Any

import pytest

from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.web.portal.conftest import SECRET_NOTE, add_internal_note, open_request, png, snapshot
from tickets.models import SatisfactionRating
from tickets.services.lifecycle import ticket_transition
from tickets.services.surveys import survey_open
from web.portal.place import SESSION_KEY

pytestmark = pytest.mark.django_db

ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "", {}),
    ("post", "reply/", {"body": "Let me in"}),
    ("post", "transition/", {"name": "approve"}),
    ("post", "transition/", {"name": "decline", "note": "No"}),
    ("post", "transition/", {"name": "confirm"}),
    ("post", "transition/", {"name": "reopen"}),
    ("post", "rate/", {"score": "bad"}),
]


@pytest.fixture
def tickets(community, member, agent):
    """One request waiting for approval, one resolved with an open survey."""
    waiting = open_request(community, member, subject="Waiting")
    resolved = open_request(community, member, subject="Resolved")
    ticket_transition(ticket=resolved, name="approve", actor=agent)
    ticket_transition(ticket=resolved, name="resolve", actor=agent)
    survey_open(ticket=resolved)
    add_internal_note(resolved, agent)
    return [waiting, resolved]


def _ratings():
    return list(SatisfactionRating.objects.values_list("pk", "score", "answered_at"))


def _try_everything(client, tickets):
    codes = []
    for ticket in tickets:
        for method, action, data in ACTIONS:
            url = f"/portal/tickets/{ticket.reference}/{action}"
            if action == "reply/":
                data = {**data, "attachments": [png()]}
            codes.append(getattr(client, method)(url, data).status_code)
    return codes


@pytest.mark.parametrize("intruder", ["outsider", "stranger", "fellow_member"])
def test_no_one_else_sees_or_changes_a_request(as_user, tickets, community, request, intruder):
    user = (
        MembershipFactory.create(community=community).user
        if intruder == "fellow_member"
        else request.getfixturevalue(intruder)
    )
    before, ratings = snapshot(), _ratings()

    codes = _try_everything(as_user(user), tickets)

    assert codes == [404] * len(ACTIONS) * len(tickets)
    assert snapshot() == before
    assert _ratings() == ratings


def test_a_reference_that_does_not_exist_is_the_same_404(as_user, member):
    assert as_user(member).get("/portal/tickets/SD-999999/").status_code == 404
    assert as_user(member).get("/portal/tickets/not-a-reference/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in_and_nothing_changes(client, tickets):
    before, ratings = snapshot(), _ratings()
    paths = ["/portal/", "/portal/new/", "/portal/approvals/", "/portal/community/"]
    paths += [
        f"/portal/tickets/{t.reference}/{action}" for t in tickets for _, action, _ in ACTIONS
    ]

    for path in paths:
        for response in (client.get(path), client.post(path, {"name": "approve", "body": "x"})):
            assert (response.status_code, response["Location"]) == (
                302,
                f"/accounts/login/?next={path}",
            ), path

    assert snapshot() == before
    assert _ratings() == ratings


def test_the_switcher_refuses_a_community_the_user_is_not_in(as_user, community, member):
    foreign = CommunityFactory.create()
    client = as_user(member)
    client.post("/portal/community/", {"community": community.slug})

    by_post = client.post("/portal/community/", {"community": foreign.slug})
    by_get = client.get("/portal/community/", {"community": foreign.slug})
    nonsense = client.get("/portal/community/", {"community": ""})

    assert (by_post.status_code, by_get.status_code, nonsense.status_code) == (404, 404, 404)
    assert client.session[SESSION_KEY] == community.pk


def test_a_stranger_has_no_community_to_switch_to(as_user, community, stranger):
    client = as_user(stranger)

    assert client.post("/portal/community/", {"community": community.slug}).status_code == 404
    assert SESSION_KEY not in client.session


def test_a_forged_session_community_falls_back_to_the_users_own(as_user, community, member):
    foreign = CommunityFactory.create()
    open_request(foreign, MembershipFactory.create(community=foreign, role="representative").user)
    client = as_user(member)
    session = client.session
    session[SESSION_KEY] = foreign.pk
    session.save()

    response = client.get("/portal/")

    assert response.context["place"].community == community
    assert list(response.context["page"].object_list) == []


def test_the_switcher_goes_back_only_to_portal_pages(as_user, community, member):
    client = as_user(member)

    back = client.post("/portal/community/", {"community": community.slug, "next": "/portal/new/"})
    away = client.post(
        "/portal/community/", {"community": community.slug, "next": "https://evil.example/"}
    )

    assert (back["Location"], away["Location"]) == ("/portal/new/", "/portal/")


def test_a_representative_never_sees_internal_notes(as_user, tickets, representative):
    for ticket in tickets:
        response = as_user(representative).get(f"/portal/tickets/{ticket.reference}/")
        assert response.status_code == 200
        assert SECRET_NOTE not in response.content.decode()
