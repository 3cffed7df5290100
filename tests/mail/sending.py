"""For tests elsewhere that read `django.core.mail.outbox`: mail now leaves through the
outbox (tickets.mail.outbound) after commit; this sends what is queued, as the
`mail.send` task would."""

from __future__ import annotations

from tickets.mail.models import OutboundMail, OutboundStatus
from tickets.mail.outbound import outbound_send


def send_queued_mail() -> list[str]:
    """Send every queued mail now; the status each one ends in."""
    queued = OutboundMail.objects.filter(status=OutboundStatus.QUEUED).order_by("pk")
    return [
        outbound_send(mail_id=pk, any_time=True).status
        for pk in queued.values_list("pk", flat=True)
    ]
