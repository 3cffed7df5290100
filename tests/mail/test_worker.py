"""A real Celery worker, on the real Redis, acknowledges a mailed request: the reaction
queues the mail, and the `mail.send` task sends it."""

import pytest

from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.mail.mime import raw_mail
from tests.processes import broker_state, celery_worker, wait_until
from tickets.mail.models import OutboundMail, Source
from tickets.mail.services import mail_intake

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_sends_the_acknowledgement_of_a_mailed_request():
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user

    with celery_worker():
        inbound = mail_intake(raw_mail(sender=representative.email), source=Source.COMMAND)
        wait_until(
            lambda: OutboundMail.objects.filter(kind="request_received", status="sent").exists(),
            timeout=120,
            what=lambda: (
                f"the acknowledgement to be sent: "
                f"{list(OutboundMail.objects.values('kind', 'status', 'last_error'))}; {broker_state()}"
            ),
        )

    mail = OutboundMail.objects.get()
    assert (mail.recipient, mail.ticket, mail.attempts) == (
        representative.email, inbound.ticket, 1,
    )  # fmt: skip
    assert mail.in_reply_to == inbound.message_id
    assert mail.sent_at is not None
