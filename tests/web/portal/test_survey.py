from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.web.portal.conftest import open_request
from tickets.models import SatisfactionRating, TicketEvent
from tickets.services.lifecycle import ticket_transition
from tickets.services.surveys import survey_open, survey_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(community, member, agent):
    ticket = open_request(
        community, member, subject="Hub slow", description="Private details of the hub"
    )
    ticket_transition(ticket=ticket, name="approve", actor=agent)
    return ticket_transition(ticket=ticket, name="resolve", actor=agent)


@pytest.fixture
def link(resolved):
    rating = survey_open(ticket=resolved)
    assert rating is not None
    return f"/portal/survey/{survey_token(rating)}/"


def test_the_link_works_without_login_and_preselects_the_score(client, resolved, link):
    response = client.get(f"{link}?score=bad")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<p class="reference">{resolved.reference}</p>' in html
    assert "<h1>Hub slow</h1>" in html
    assert '<input type="radio" name="score" value="bad" id="id_score_1" required checked>' in html
    # Only the reference and subject: nothing else about the ticket or who asked.
    assert "Private details" not in html
    assert resolved.requester.display_name not in html
    assert resolved.community.name not in html


def test_a_good_answer_through_the_link(client, resolved, link):
    response = client.post(link, {"score": "good", "comment": " Fast! "}, follow=True)

    rating = SatisfactionRating.objects.get()
    assert (rating.score, rating.comment, rating.answered_at is not None) == ("good", "Fast!", True)
    assert response.redirect_chain == [(link, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"Thank you: your rating of {resolved.reference} is recorded."
    ]
    assert b"<strong>This survey has been answered.</strong>" in response.content
    assert b"Not resolved?" not in response.content


def test_a_bad_answer_tells_an_anonymous_visitor_how_to_go_on(client, resolved, link):
    response = client.post(link, {"score": "bad"}, follow=True)

    assert SatisfactionRating.objects.get().score == "bad"
    html = response.content.decode()
    assert "Not resolved?" in html
    assert (
        f'reply on <a href="/portal/tickets/{resolved.reference}/">the request page</a>, '
        "or ask one of your community's representatives to reopen it." in html
    )
    assert 'value="reopen"' not in html


def test_a_bad_answer_offers_a_signed_in_representative_to_reopen(
    client, resolved, link, representative
):
    client.post(link, {"score": "bad"})
    client.force_login(representative)

    page = client.get(link)
    reopened = client.post(f"/portal/tickets/{resolved.reference}/transition/", {"name": "reopen"})

    assert page.context["can_reopen"] is True
    assert (
        f'<form method="post" action="/portal/tickets/{resolved.reference}/transition/">'
        in page.content.decode()
    )
    assert reopened.status_code == 302
    resolved.refresh_from_db()
    assert resolved.status == "open"


def test_the_requester_who_is_not_a_representative_is_not_offered_reopen(
    client, resolved, link, member
):
    client.force_login(member)
    page = client.post(link, {"score": "bad"}, follow=True)

    assert page.context["can_reopen"] is False
    assert b'value="reopen"' not in page.content


def test_the_link_answers_once(client, resolved, link):
    client.post(link, {"score": "good"})

    again = client.post(link, {"score": "bad", "comment": "changed my mind"})

    assert again.status_code == 400
    assert b"This survey has already been answered; your first answer stands." in again.content
    rating = SatisfactionRating.objects.get()
    assert (rating.score, rating.comment) == ("good", "")
    assert TicketEvent.objects.filter(kind="rated").count() == 1


def test_an_answer_without_a_score_shows_its_error(client, link):
    response = client.post(link, {"comment": "?"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"score": ["This field is required."]}
    assert SatisfactionRating.objects.get().answered_at is None


def test_a_forged_link_is_not_found(client, link):
    assert client.get(link[:-3] + "xx/").status_code == 404
    assert client.get("/portal/survey/nonsense/").status_code == 404


def test_a_link_older_than_14_days_is_not_found(client, link):
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        expired = client.get(link)
        refused = client.post(link, {"score": "good"})

    assert (expired.status_code, refused.status_code) == (404, 404)
    assert SatisfactionRating.objects.get().answered_at is None
