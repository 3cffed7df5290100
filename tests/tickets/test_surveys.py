from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.errors import Forbidden
from core.models import EventDelivery
from core.outbox import delivery_run
from tests.mail.sending import send_queued_mail
from tests.tickets.factories import TicketFactory
from tickets.errors import SurveyAlreadyAnswered, SurveyLinkInvalid
from tickets.models import SatisfactionRating, TicketEvent
from tickets.services.lifecycle import ticket_transition
from tickets.services.surveys import survey_answer, survey_from_token, survey_open, survey_token

pytestmark = pytest.mark.django_db


def _resolve(ticket, agent):
    ticket_transition(ticket=ticket, name="resolve", actor=agent)
    delivery_run(delivery_id=EventDelivery.objects.get(event__name="ticket.resolved").pk)


def test_resolving_mails_the_requester_a_survey_link(agent):
    ticket = TicketFactory.create(status="in_progress")

    _resolve(ticket, agent)
    send_queued_mail()

    rating = SatisfactionRating.objects.get()
    assert (rating.ticket, rating.requester, rating.score, rating.answered_at) == (
        ticket, ticket.requester, "", None,
    )  # fmt: skip
    assert [m.to for m in mail.outbox] == [[ticket.requester.email]]
    token = survey_token(rating)
    assert f"/portal/survey/{token}/?score=good" in mail.outbox[0].body
    assert f"/portal/survey/{token}/?score=bad" in mail.outbox[0].body


def test_the_link_records_one_answer_only():
    ticket = TicketFactory.create(status="resolved")
    rating = survey_open(ticket=ticket)
    assert rating is not None

    answered = survey_answer(
        rating=survey_from_token(survey_token(rating)), score="bad", comment=" slow "
    )

    assert (answered.score, answered.comment) == ("bad", "slow")
    assert TicketEvent.objects.get(kind="rated").data == {"score": "bad"}
    with pytest.raises(SurveyAlreadyAnswered):
        survey_answer(rating=rating, score="good")
    rating.refresh_from_db()
    assert rating.score == "bad"


def test_the_link_expires_after_14_days_and_cannot_be_forged():
    ticket = TicketFactory.create(status="resolved")
    rating = survey_open(ticket=ticket)
    assert rating is not None
    token = survey_token(rating)

    with (
        time_machine.travel(timezone.now() + timedelta(days=14, minutes=1)),
        pytest.raises(SurveyLinkInvalid),
    ):
        survey_from_token(token)
    with pytest.raises(SurveyLinkInvalid):
        survey_from_token(token[:-2] + "xx")
    assert survey_from_token(token) == rating


def test_only_the_requester_answers_in_the_portal(agent):
    ticket = TicketFactory.create(status="resolved")
    rating = survey_open(ticket=ticket)
    assert rating is not None

    with pytest.raises(Forbidden):
        survey_answer(rating=rating, score="good", by=agent)
    assert survey_answer(rating=rating, score="good", by=ticket.requester).score == "good"


def test_one_open_survey_per_ticket_and_none_once_reopened(agent):
    ticket = TicketFactory.create(status="resolved")

    assert survey_open(ticket=ticket) is not None
    assert survey_open(ticket=ticket) is None

    reopened = TicketFactory.create(status="open")
    assert survey_open(ticket=reopened) is None
    assert SatisfactionRating.objects.count() == 1
