import pytest
from django.core import mail

from core.errors import Forbidden
from core.models import EventDelivery
from core.outbox import delivery_run
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.mail.sending import send_queued_mail
from tests.tickets.api.test_attachments_api import PNG
from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.errors import LinkRefused, MergeRefused, TicketChanged
from tickets.models import Attachment, Message, TicketEvent, TicketLink
from tickets.services.attachments import attachment_add
from tickets.services.relations import ticket_link_add, ticket_link_remove, ticket_merge

pytestmark = pytest.mark.django_db


def test_links_are_stored_once_and_audited_on_both_tickets(agent):
    first = TicketFactory.create()
    second = TicketFactory.create(community=first.community)

    link = ticket_link_add(ticket=second, other=first, actor=agent)

    assert (link.from_ticket, link.to_ticket) == (first, second)
    with pytest.raises(LinkRefused):
        ticket_link_add(ticket=first, other=second, actor=agent)
    assert TicketLink.objects.count() == 1
    assert sorted(
        TicketEvent.objects.filter(kind="linked").values_list("ticket", "data__reference")
    ) == sorted([(first.pk, second.reference), (second.pk, first.reference)])

    ticket_link_remove(ticket=first, other=second, actor=agent)
    assert not TicketLink.objects.exists()
    assert TicketEvent.objects.filter(kind="unlinked").count() == 2


def test_links_stay_inside_one_community_and_need_an_agent(agent):
    first, elsewhere = TicketFactory.create(), TicketFactory.create()

    with pytest.raises(LinkRefused):
        ticket_link_add(ticket=first, other=elsewhere, actor=agent)
    with pytest.raises(LinkRefused):
        ticket_link_add(ticket=first, other=first, actor=agent)
    with pytest.raises(Forbidden):
        ticket_link_add(ticket=first, other=elsewhere, actor=first.requester)
    assert not TicketLink.objects.exists()


def test_merging_moves_the_conversation_and_closes_the_duplicate(agent):
    target = TicketFactory.create(status="in_progress")
    requester = MembershipFactory.create(community=target.community, role="representative").user
    duplicate = TicketFactory.create(community=target.community, requester=requester, status="new")
    MessageFactory.create(ticket=duplicate, author=requester, body="Me too")
    attachment_add(ticket=duplicate, uploaded_by=requester, upload=_png())

    ticket_merge(source=duplicate, target=target, actor=agent)

    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == ("closed", target)
    assert list(target.messages.values_list("body", flat=True)) == [
        "Me too",
        f"Merged {duplicate.reference} ({duplicate.subject}) into this ticket: 1 message(s) moved here.",
    ]
    assert target.messages.get(body__startswith="Merged").kind == "internal"
    assert Attachment.objects.get().ticket == target
    assert not Message.objects.filter(ticket=duplicate).exists()
    assert TicketEvent.objects.filter(kind="merged").count() == 2

    delivery_run(
        delivery_id=EventDelivery.objects.get(
            event__name="ticket.merged", handler="tickets.notifications.tell_requester_merged"
        ).pk
    )
    send_queued_mail()
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert mail.outbox[0].subject == f"[{duplicate.reference}] Continued in {target.reference}"


def _png():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("shot.png", PNG)


@pytest.mark.parametrize(
    ("case", "error"),
    [("another community", MergeRefused), ("itself", MergeRefused), ("closed", MergeRefused),
     ("a member", Forbidden)],
)  # fmt: skip
def test_what_cannot_be_merged(agent, case, error):
    target = TicketFactory.create()
    source = TicketFactory.create(
        community=target.community, status="closed" if case == "closed" else "new"
    )
    if case == "another community":
        source = TicketFactory.create()
    if case == "itself":
        source = target
    actor = target.requester if case == "a member" else agent

    with pytest.raises(error):
        ticket_merge(source=source, target=target, actor=actor)

    source.refresh_from_db()
    assert source.merged_into is None
    assert not TicketEvent.objects.filter(kind="merged").exists()


def test_a_stale_page_is_refused_with_what_changed(agent):
    from tickets.services.conversation import message_add

    ticket = TicketFactory.create(status="in_progress")
    other_agent = AgentFactory.create()
    seen = TicketEvent.objects.filter(ticket=ticket).order_by("pk").last()
    seen_id = seen.pk if seen else 0
    message_add(ticket=ticket, author=other_agent, body="I'm on it")

    with pytest.raises(TicketChanged) as error:
        message_add(ticket=ticket, author=agent, body="Me too", seen_event_id=seen_id)

    newer = list(
        TicketEvent.objects.filter(ticket=ticket, pk__gt=seen_id).values_list("pk", flat=True)
    )
    assert error.value.extra == {"events": newer, "latest": newer[-1]}
    assert ticket.messages.filter(body="Me too").count() == 0
    # after seeing the change, the agent sends anyway
    message_add(ticket=ticket, author=agent, body="Me too", seen_event_id=newer[-1])
    assert ticket.messages.filter(body="Me too").count() == 1


def test_your_own_changes_do_not_make_your_page_stale(agent):
    from tickets.services.conversation import message_add
    from tickets.services.lifecycle import ticket_transition

    ticket = TicketFactory.create(status="in_progress")
    message_add(ticket=ticket, author=agent, body="first", seen_event_id=0)

    ticket_transition(ticket=ticket, name="resolve", actor=agent, seen_event_id=0)

    ticket.refresh_from_db()
    assert ticket.status == "resolved"
