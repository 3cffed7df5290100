"""Outgoing mail through a real SMTP server: headers, threading, exactly once, retries,
preferences, templates, and what never gets mail."""

from __future__ import annotations

from datetime import timedelta
from email.utils import make_msgid
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import Event, EventDelivery
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.mail.conftest import run_reactions
from tests.mail.mime import raw_mail
from tickets import notifications
from tickets.mail.models import (
    MailKind,
    MailTemplate,
    MailThread,
    OutboundMail,
    OutboundStatus,
    Source,
    Status,
    SupportAddress,
)
from tickets.mail.outbound import (
    mail_preference_set,
    mail_queue,
    mail_template_reset,
    outbound_send,
    outbound_sweep,
    render_template,
)
from tickets.mail.services import mail_intake
from tickets.mail.tasks import send_mail
from tickets.models import Message, Ticket
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition

pytestmark = pytest.mark.django_db


def send_queued() -> list[str]:
    return [
        outbound_send(mail_id=pk, any_time=True).status
        for pk in OutboundMail.objects.filter(status=OutboundStatus.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


@pytest.fixture
def desk(community, representative):
    SupportAddress.objects.create(address="Aurora@Desk.example", community=community)
    return community


def _mailed_ticket(representative, message_id="<ask-1@client.example>") -> Ticket:
    inbound = mail_intake(
        raw_mail(sender=representative.email, to="aurora@desk.example", message_id=message_id),
        source=Source.COMMAND,
    )
    assert inbound.ticket is not None
    return inbound.ticket


# ---------------------------------------------------------------- headers and threading


def test_a_mailed_request_is_acknowledged_in_its_thread_with_the_reference(
    desk, representative, smtp
):
    ticket = _mailed_ticket(representative)

    assert run_reactions() == 1
    assert send_queued() == ["sent"]

    [(to, _)] = smtp.received
    [message] = smtp.messages()
    row = OutboundMail.objects.get()
    assert to == [representative.email]
    assert (row.kind, row.status, row.attempts, row.ticket) == (
        "request_received", "sent", 1, ticket,
    )  # fmt: skip
    assert row.sent_at is not None
    assert message["Message-ID"] == row.message_id
    assert row.message_id.endswith("@localhost>")
    assert message["In-Reply-To"] == "<ask-1@client.example>"
    assert message["References"] == "<ask-1@client.example>"
    assert message["Reply-To"] == "aurora@desk.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == f"[{ticket.reference}] We received your request: The hub is down"
    assert message["Subject"].count(f"[{ticket.reference}]") == 1
    assert f"gave it the reference {ticket.reference}" in message.get_body(("plain",)).get_content()
    assert message.get_body(("html",)) is not None
    assert list(MailThread.objects.order_by("pk").values_list("message_id", "direction")) == [
        ("<ask-1@client.example>", "in"),
        (row.message_id, "out"),
    ]


def test_the_reply_to_is_the_desk_address_when_the_community_has_none(community, smtp, settings):
    settings.MAIL_REPLY_TO = "help@desk.example"
    representative = MembershipFactory.create(community=community, role="representative").user
    ticket_open(
        community=community, requester=representative, subject="Quota", description="More",
        opened_by=representative,
    )  # fmt: skip

    run_reactions()
    send_queued()

    [message] = smtp.messages()
    assert message["Reply-To"] == "help@desk.example"
    assert message["In-Reply-To"] is None  # nothing came by mail before
    assert message["Subject"].startswith("[SD-")


def test_an_agents_reply_goes_out_and_the_customers_answer_threads_back_with_the_quote_stripped(
    desk, representative, smtp
):
    ticket = _mailed_ticket(representative)
    run_reactions()
    send_queued()
    smtp.reset()
    agent = AgentFactory.create(first_name="Alex")

    message_add(ticket=ticket, author=agent, body="Please restart the sync agent.")
    assert run_reactions() == 1
    assert send_queued() == ["sent"]

    [sent] = smtp.messages()
    acknowledgement = OutboundMail.objects.get(kind="request_received")
    reply_row = OutboundMail.objects.get(kind="staff_reply")
    assert sent["Message-ID"] == reply_row.message_id
    assert sent["Auto-Submitted"] is None  # a person wrote it
    assert sent["In-Reply-To"] == acknowledgement.message_id
    assert sent["References"] == f"<ask-1@client.example> {acknowledgement.message_id}"
    assert sent["Subject"] == f"[{ticket.reference}] Re: The hub is down"
    text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Please restart the sync agent.\n\n--\nAlex")

    # The customer's client answers it, quoting it.
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    answer = raw_mail(
        sender=representative.email,
        to="aurora@desk.example",
        subject=f"Re: {sent['Subject']}",
        body=f"Done, it syncs again.\n\nOn Mon, 3 Jun 2024, Support wrote:\n{quoted}\n",
        headers={"In-Reply-To": sent["Message-ID"], "References": sent["References"] + " "
                 + sent["Message-ID"]},
    )  # fmt: skip
    inbound = mail_intake(answer, source=Source.COMMAND)

    assert (inbound.status, inbound.ticket) == (Status.REPLY_ADDED, ticket)
    assert inbound.ticket_message is not None
    assert inbound.ticket_message.body == "Done, it syncs again."
    assert Ticket.objects.count() == 1


def test_an_internal_note_never_mails(desk, representative):
    ticket = _mailed_ticket(representative)
    run_reactions()
    agent = AgentFactory.create()

    message_add(ticket=ticket, author=agent, body="Customer is on the old plan.", kind="internal")

    assert not EventDelivery.objects.filter(
        handler="tickets.notifications.send_staff_reply"
    ).exists()
    assert not OutboundMail.objects.filter(kind="staff_reply").exists()


def test_the_requesters_own_public_message_is_not_mailed_back(desk, representative):
    ticket = _mailed_ticket(representative)
    run_reactions()

    message_add(ticket=ticket, author=representative, body="One more thing.")
    run_reactions()

    assert not OutboundMail.objects.filter(kind="staff_reply").exists()


def test_approval_decline_resolve_and_merge_each_mail_the_right_people(
    community, representative, member, agent, smtp
):
    request = ticket_open(
        community=community, requester=member, subject="Hub", description="Down",
        opened_by=member,
    )  # fmt: skip
    run_reactions()
    ticket_transition(ticket=request, name="approve", actor=representative)
    run_reactions()
    ticket_transition(ticket=request, name="resolve", actor=agent)
    run_reactions()
    send_queued()

    assert sorted(
        OutboundMail.objects.values_list("kind", "recipient", "status")
    ) == sorted([
        ("request_received", member.email, "sent"),
        ("approval_requested", representative.email, "sent"),
        ("approved", member.email, "sent"),
        ("resolved", member.email, "sent"),
    ])  # fmt: skip
    survey = OutboundMail.objects.get(kind="resolved")
    assert "/portal/survey/" in survey.text
    assert [to for to, _ in smtp.received].count([member.email]) == 3


# ---------------------------------------------------------------- exactly once


def test_a_reaction_run_twice_queues_one_mail_per_recipient(desk, representative):
    _mailed_ticket(representative)
    event = Event.objects.get(name="ticket.opened")

    notifications.acknowledge_request(event=event)
    notifications.acknowledge_request(event=event)

    assert OutboundMail.objects.count() == 1


def test_the_database_refuses_a_second_mail_for_one_cause_and_recipient(desk, representative):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMail.objects.create(
            kind=row.kind, dedup_key=row.dedup_key, recipient=row.recipient, subject="x",
            text="x", message_id=make_msgid(),
        )  # fmt: skip


def test_a_mail_sent_is_never_sent_again(desk, representative, smtp):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()

    assert outbound_send(mail_id=row.pk).status == "sent"
    assert outbound_send(mail_id=row.pk, any_time=True).status == "sent"
    send_mail.run(mail_id=row.pk)

    assert len(smtp.received) == 1
    assert OutboundMail.objects.get().attempts == 1


# ---------------------------------------------------------------- retries and failures


def test_an_smtp_4xx_is_retried_with_backoff_and_then_sent(desk, representative, smtp):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()
    smtp.refuse_next = 1

    first = outbound_send(mail_id=row.pk)

    row.refresh_from_db()
    assert (first.status, first.retry_in) == ("queued", 30.0)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "451" in row.last_error
    assert smtp.received == []
    assert outbound_send(mail_id=row.pk).status == "queued"  # not due yet: nothing sent
    assert OutboundMail.objects.get().attempts == 1

    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert outbound_send(mail_id=row.pk).status == "sent"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(smtp.received) == 1


def test_the_task_retries_a_transient_failure_after_the_rows_backoff(desk, representative, smtp):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()
    smtp.refuse_next = 1

    with (
        mock.patch.object(send_mail, "retry", return_value=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError),
    ):
        send_mail.run(mail_id=row.pk)

    retry.assert_called_once_with(countdown=30.0, max_retries=None)


def test_an_smtp_5xx_fails_at_once(desk, representative, smtp):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()
    smtp.refuse_next, smtp.refusal = 1, "550 5.1.1 No such user"

    assert outbound_send(mail_id=row.pk).status == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550" in row.last_error


def test_a_mail_out_of_attempts_fails(desk, representative, smtp, settings):
    settings.MAIL_MAX_ATTEMPTS = 2
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()
    smtp.refuse_next = 5

    assert outbound_send(mail_id=row.pk, any_time=True).status == "queued"
    assert outbound_send(mail_id=row.pk, any_time=True).status == "failed"
    assert OutboundMail.objects.get().attempts == 2


@pytest.mark.django_db(transaction=True)
def test_the_queued_mail_goes_to_the_task_after_commit(mail_tasks):
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user
    with transaction.atomic():
        _mailed_ticket(representative)
        run_reactions()
        assert mail_tasks == []  # not before the reaction's transaction commits

    assert mail_tasks == [OutboundMail.objects.get().pk]


def test_the_sweeper_sends_mail_a_lost_task_left_behind(desk, representative, mail_tasks):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()

    assert outbound_sweep() == 0  # too fresh: its task may still come

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert outbound_sweep() == 1
    assert mail_tasks == [row.pk]


def test_a_send_whose_worker_died_is_taken_again_after_its_lease(desk, representative, smtp):
    _mailed_ticket(representative)
    run_reactions()
    row = OutboundMail.objects.get()
    OutboundMail.objects.filter(pk=row.pk).update(
        status="sending", attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=2)
    )

    assert outbound_send(mail_id=row.pk).status == "sending"  # someone holds it
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert outbound_send(mail_id=row.pk).status == "sent"
    assert len(smtp.received) == 1


# ---------------------------------------------------------------- who never gets mail


def test_a_muted_notification_is_suppressed_with_its_reason(desk, representative, smtp):
    mail_preference_set(user=representative, muted=["request_received", "unknown_sender"])

    _mailed_ticket(representative)
    run_reactions()

    row = OutboundMail.objects.get()
    assert (row.status, row.reason) == ("suppressed", "The recipient turned this notification off.")
    assert send_queued() == []
    assert smtp.received == []
    assert not MailThread.objects.filter(direction="out").exists()
    assert representative.mail_preference.muted == ["request_received"]  # only optional kinds


def test_the_desk_never_mails_its_own_addresses(community):
    rows = mail_queue(
        kind=MailKind.UNKNOWN_SENDER, dedup_key="x",
        recipients=[("Support Desk <support@localhost>", None), ("AURORA@desk.example", None)],
        context={"original_subject": "Hi"},
    )  # fmt: skip
    SupportAddress.objects.create(address="aurora@desk.example", community=community)
    rows += mail_queue(
        kind=MailKind.UNKNOWN_SENDER, dedup_key="y", recipients=[("aurora@desk.example", None)],
        context={"original_subject": "Hi"},
    )  # fmt: skip

    assert [(r.recipient, r.status, r.reason) for r in rows] == [
        ("support@localhost", "suppressed", "The desk never mails its own addresses."),
        ("aurora@desk.example", "queued", ""),
        ("aurora@desk.example", "suppressed", "The desk never mails its own addresses."),
    ]


# ---------------------------------------------------------------- templates


def test_a_template_edited_in_the_admin_is_used_and_can_be_reset(desk, representative):
    MailTemplate.objects.create(
        kind="request_received",
        subject="Got it: {{ ticket.subject }}",
        text="Ref {{ ticket.reference }} for {{ recipient.email }}",
        html="<p>{{ ticket.subject }}</p>",
    )
    ticket = _mailed_ticket(representative)
    run_reactions()

    row = OutboundMail.objects.get()
    assert row.subject == f"[{ticket.reference}] Got it: The hub is down"
    assert row.text == f"Ref {ticket.reference} for {representative.email}\n"

    template = mail_template_reset(kind="request_received")
    assert template.subject == "We received your request: {{ ticket.subject }}"


def test_templates_see_plain_values_only_and_html_is_escaped():
    rendered = render_template(
        "staff_reply",
        {
            "ticket": {"reference": "SD-1", "subject": "<b>x</b>", "url": "u"},
            "reply": {"body": "<script>alert(1)</script>", "author": "Alex"},
        },
    )
    assert rendered.text.startswith("<script>alert(1)</script>\n")
    assert "&lt;script&gt;" in rendered.html
    assert "<script>" not in rendered.html


def test_every_kind_has_a_default_template():
    for kind in MailKind.values:
        assert mail_template_reset(kind=kind).subject, kind
        assert MailTemplate.objects.get(kind=kind).text, kind


# ---------------------------------------------------------------- paging


def test_a_paging_email_goes_through_the_outbox_once(smtp):
    from incidents.notify.sending import deliver
    from incidents.notify.services import notify, rule_create

    person = AgentFactory.create(email="oncall@desk.example")
    rule_create(user=person, importance="default", channel="email", delay_minutes=0)
    delivery = notify(
        recipient=person, subject="[P1] Hub down", body="503", key="p"
    ).deliveries.get(channel="email")

    assert deliver(delivery_id=delivery.pk) == "sent"
    assert deliver(delivery_id=delivery.pk) is None

    row = OutboundMail.objects.get()
    [message] = smtp.messages()
    assert (row.kind, row.status, row.recipient) == ("paging", "sent", "oncall@desk.example")
    assert message["Message-ID"] == row.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    delivery.refresh_from_db()
    assert delivery.provider_id == row.message_id


def test_only_public_messages_reach_the_staff_reply_reaction():
    assert notifications.public_staff_reply({"kind": Message.Kind.PUBLIC})
    assert not notifications.public_staff_reply({"kind": Message.Kind.INTERNAL})


def test_the_mail_tasks_run_on_the_default_queue_and_beat_sweeps_and_polls(settings):
    import tickets.mail.tasks  # noqa: F401 - registers the tasks, as a worker's autodiscovery does
    from supportdesk.celery import app

    assert {"mail.send", "mail.sweep", "mail.poll_mailboxes"} <= set(app.tasks)
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    assert "default" in settings.WORKER_QUEUES
    assert settings.CELERY_BEAT_SCHEDULE["mail-sweep"]["task"] == "mail.sweep"
    assert settings.CELERY_BEAT_SCHEDULE["mail-poll"]["task"] == "mail.poll_mailboxes"
