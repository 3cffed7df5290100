import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import EventDelivery
from core.outbox import delivery_run
from tests.communities.factories import MembershipFactory
from tests.mail.sending import send_queued_mail
from tests.tickets.factories import MessageFactory, TicketFactory
from tests.web.portal.conftest import (
    ELF,
    SECRET_NOTE,
    add_internal_note,
    open_request,
    png,
    snapshot,
)
from tickets.models import Attachment, Message, SatisfactionRating, TicketEvent
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_transition
from tickets.services.surveys import survey_open

pytestmark = pytest.mark.django_db


def _url(ticket, action=""):
    return f"/portal/tickets/{ticket.reference}/{action + '/' if action else ''}"


def _resolved(community, requester, agent):
    ticket = open_request(community, requester)
    if ticket.status == "awaiting_approval":
        ticket_transition(ticket=ticket, name="approve", actor=agent)
    return ticket_transition(ticket=ticket, name="resolve", actor=agent)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# ---------------------------------------------------------------- what the page shows


def test_the_page_shows_the_header_description_and_public_conversation(
    as_user, community, member, agent
):
    ticket = open_request(
        community, member, subject="Hub down", kind="incident", severity="critical",
        description="Nothing **loads**.", attachments=[png("error.png")],
    )  # fmt: skip
    ticket_transition(ticket=ticket, name="approve", actor=agent)
    reply = message_add(ticket=ticket, author=agent, body="We are *on it*.")
    add_internal_note(ticket, agent)

    response = as_user(member).get(_url(ticket))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<p class="reference">{ticket.reference}</p>' in html
    assert "<h1>Hub down</h1>" in html
    assert '<span class="badge badge-status-open">Open</span>' in html
    assert '<span class="badge badge-severity-critical">Critical (P1)</span>' in html
    for fact in [
        "<dt>Kind</dt><dd>Incident</dd>",
        f"<dt>Community</dt><dd>{community.name}</dd>",
        f"<dt>Requester</dt><dd>{member.display_name}</dd>",
        f'<dt>Created</dt><dd><time datetime="{ticket.created_at.isoformat()}"',
        "<dt>Last update</dt><dd><time datetime=",
    ]:
        assert fact in html
    assert "<p>Nothing <strong>loads</strong>.</p>" in html
    attachment = Attachment.objects.get()
    assert f'<a href="/api/v1/attachments/{attachment.pk}/download/" download>error.png</a>' in html
    assert response.context["conversation"] == [reply]
    assert f'id="message-{reply.pk}"' in html
    assert '<span class="badge badge-team">Support team</span>' in html
    assert "<p>We are <em>on it</em>.</p>" in html
    assert SECRET_NOTE not in html


def test_an_agent_looking_at_the_portal_sees_no_internal_note(as_user, community, member, agent):
    ticket = open_request(community, member)
    add_internal_note(ticket, agent)

    response = as_user(agent).get(_url(ticket))

    assert response.status_code == 200
    assert SECRET_NOTE not in response.content.decode()
    assert all(m.kind == "public" for m in response.context["conversation"])


def test_markdown_cannot_run_script_or_javascript_links(as_user, community, member):
    ticket = open_request(
        community, member, description="<script>alert(1)</script> and [x](javascript:alert(1))"
    )
    MessageFactory.create(ticket=ticket, body="<img src=x onerror=alert(2)>")

    html = as_user(member).get(_url(ticket)).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; and [x](javascript:alert(1))</p>" in html
    )  # escaped, and the link left as plain text
    assert 'href="javascript' not in html
    assert "<img" not in html
    assert "<p>&lt;img src=x onerror=alert(2)&gt;</p>" in html


# ---------------------------------------------------------------- replies


def test_a_reply_with_a_file_is_added_to_the_conversation(as_user, community, member):
    ticket = open_request(community, member)

    response = as_user(member).post(
        _url(ticket, "reply"), {"body": "Here is the log.", "attachments": [png("log.png")]}
    )

    message = Message.objects.latest("id")
    assert (response.status_code, response["Location"]) == (
        302,
        f"{_url(ticket)}#message-{message.pk}",
    )
    assert (message.body, message.author, message.kind, message.channel) == (
        "Here is the log.", member, "public", "portal",
    )  # fmt: skip
    assert list(message.attachments.values_list("filename", flat=True)) == ["log.png"]
    page = as_user(member).get(_url(ticket))
    assert _messages(page) == [f"Your reply was added to {ticket.reference}."]
    assert b"Here is the log." in page.content


def test_a_refused_file_in_a_reply_changes_nothing(as_user, community, member):
    ticket = open_request(community, member)
    before = snapshot()

    response = as_user(member).post(
        _url(ticket, "reply"),
        {"body": "Binary", "attachments": [SimpleUploadedFile("x.png", ELF)]},
    )

    assert response.status_code == 400
    assert response.context["reply_form"].errors == {
        "attachments": ["Files of type application/x-executable are not accepted."]
    }
    assert 'id="id_attachments_error"' in response.content.decode()
    assert snapshot() == before


def test_an_empty_reply_shows_its_error(as_user, community, member):
    ticket = open_request(community, member)
    before = snapshot()

    response = as_user(member).post(_url(ticket, "reply"), {"body": "  "})

    assert response.status_code == 400
    assert response.context["reply_form"].errors == {"body": ["This field is required."]}
    assert snapshot() == before


def test_a_closed_request_takes_no_more_replies(as_user, community, member):
    ticket = TicketFactory.create(community=community, requester=member, status="closed")
    client = as_user(member)
    before = snapshot()

    page = client.get(_url(ticket))
    forged = client.post(_url(ticket, "reply"), {"body": "One more thing"})

    assert b'action="/portal/tickets/' + ticket.reference.encode() + b'/reply/"' not in page.content
    assert b"This request is closed and takes no more replies." in page.content
    assert forged.status_code == 400
    assert forged.context["reply_form"].non_field_errors() == [
        "This ticket is closed; please open a new request."
    ]
    assert snapshot() == before


# ---------------------------------------------------------------- confirm and reopen


def test_the_requester_confirms_a_resolution(as_user, community, member, agent):
    ticket = _resolved(community, member, agent)
    client = as_user(member)

    page = client.get(_url(ticket))
    response = client.post(_url(ticket, "transition"), {"name": "confirm"}, follow=True)

    assert b"Confirm it is resolved" in page.content
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert response.redirect_chain == [(_url(ticket), 302)]
    assert _messages(response) == [f"Thank you: {ticket.reference} is closed as resolved."]


def test_a_representative_reopens_a_resolved_request(
    as_user, community, member, representative, agent
):
    ticket = _resolved(community, member, agent)
    client = as_user(representative)

    page = client.get(_url(ticket))
    response = client.post(_url(ticket, "transition"), {"name": "reopen"})

    assert page.context["actions"] == ["confirm", "reopen"]
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    event = TicketEvent.objects.filter(kind="status_changed").latest("id")
    assert (event.actor, event.data["transition"]) == (representative, "reopen")


def test_a_plain_member_gets_no_reopen_button_and_cannot_forge_one(
    as_user, community, member, agent
):
    ticket = _resolved(community, member, agent)
    client = as_user(member)
    before = snapshot()

    page = client.get(_url(ticket))
    forged = client.post(_url(ticket, "transition"), {"name": "reopen"})

    assert page.context["actions"] == ["confirm"]
    assert b'value="reopen"' not in page.content
    assert forged.status_code == 400
    assert forged.context["action_errors"] == ["You may not reopen this ticket."]
    assert snapshot() == before


def test_a_transition_the_portal_does_not_offer_is_refused(as_user, community, representative):
    ticket = open_request(community, representative)
    before = snapshot()

    response = as_user(representative).post(_url(ticket, "transition"), {"name": "resolve"})

    assert response.status_code == 400
    assert snapshot() == before


# ---------------------------------------------------------------- approval


def test_a_representative_approves_from_the_request_page(
    as_user, community, member, representative
):
    ticket = open_request(community, member)
    client = as_user(representative)

    page = client.get(_url(ticket))
    response = client.post(_url(ticket, "transition"), {"name": "approve"}, follow=True)

    assert page.context["actions"] == ["approve", "decline"]
    assert b"<strong>This request waits for your approval.</strong>" in page.content
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert _messages(response) == [f"{ticket.reference} is approved and goes to the support team."]


def test_a_decline_needs_a_reason(as_user, community, member, representative):
    ticket = open_request(community, member)
    before = snapshot()

    response = as_user(representative).post(
        _url(ticket, "transition"), {"name": "decline", "note": "  "}
    )

    assert response.status_code == 400
    assert response.context["decline_form"].errors == {"note": ["Say why, for the requester."]}
    assert (
        '<small id="id_note_error" class="error" role="alert">Say why, for the requester.</small>'
        in response.content.decode()
    )
    assert snapshot() == before


def test_the_requester_sees_why_their_request_was_declined(
    as_user, community, member, representative
):
    ticket = open_request(community, member)

    as_user(representative).post(
        _url(ticket, "transition"), {"name": "decline", "note": "We have a course hub for that."}
    )
    delivery_run(
        delivery_id=EventDelivery.objects.get(
            event__name="ticket.declined",
            handler="tickets.notifications.tell_requester_declined",
        ).pk
    )
    send_queued_mail()
    page = as_user(member).get(_url(ticket))

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    html = page.content.decode()
    assert f"<strong>Declined</strong> by {representative.display_name}" in html
    assert "<blockquote>We have a course hub for that.</blockquote>" in html
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "We have a course hub for that." in mail.outbox[0].body


def test_a_plain_member_is_not_offered_approval_and_cannot_forge_it(as_user, community):
    requester = MembershipFactory.create(community=community).user
    other_member = MembershipFactory.create(community=community).user
    ticket = open_request(community, requester)
    before = snapshot()

    page = as_user(requester).get(_url(ticket))
    forged = as_user(requester).post(_url(ticket, "transition"), {"name": "approve"})
    elsewhere = as_user(other_member).post(_url(ticket, "transition"), {"name": "approve"})

    assert page.context["actions"] == []
    assert b'value="approve"' not in page.content
    assert forged.status_code == 400
    assert forged.context["action_errors"] == ["You may not approve this ticket."]
    assert elsewhere.status_code == 404  # another member does not see the request at all
    assert snapshot() == before


# ---------------------------------------------------------------- the survey in the portal


def test_the_requester_rates_a_resolved_request_on_its_page(as_user, community, member, agent):
    ticket = _resolved(community, member, agent)
    rating = survey_open(ticket=ticket)
    assert rating is not None
    client = as_user(member)

    page = client.get(_url(ticket))
    response = client.post(_url(ticket, "rate"), {"score": "good", "comment": "Quick, thanks"})

    assert page.context["survey"] == rating
    assert b'action="/portal/tickets/' + ticket.reference.encode() + b'/rate/"' in page.content
    assert (response.status_code, response["Location"]) == (302, _url(ticket))
    rating.refresh_from_db()
    assert (rating.score, rating.comment) == ("good", "Quick, thanks")
    assert client.get(_url(ticket)).context["survey"] is None


def test_only_the_requester_is_asked_to_rate(as_user, community, member, representative, agent):
    ticket = _resolved(community, member, agent)
    survey_open(ticket=ticket)
    client = as_user(representative)

    page = client.get(_url(ticket))
    forged = client.post(_url(ticket, "rate"), {"score": "bad"})

    assert page.context["survey"] is None
    assert forged.status_code == 400
    assert forged.context["rating_form"].non_field_errors() == [
        "Only the requester rates the answer."
    ]
    assert SatisfactionRating.objects.get().answered_at is None


def test_rating_without_a_score_shows_its_error(as_user, community, member, agent):
    ticket = _resolved(community, member, agent)
    survey_open(ticket=ticket)

    response = as_user(member).post(_url(ticket, "rate"), {"comment": "hm"})

    assert response.status_code == 400
    assert response.context["rating_form"].errors == {"score": ["This field is required."]}
    assert SatisfactionRating.objects.get().answered_at is None
