"""The mail reporting sends: threshold crossings, budget notices, scheduled summaries.

One small function sends everything (`send`), so the outbound channel is one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from reports.models import Target


def send(*, to: Sequence[str], subject: str, template: str, context: dict[str, object]) -> int:
    """Send one plain-text message to each address; the number sent."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return 0
    body = render_to_string(template, {"site_url": settings.SITE_URL, **context})
    sent = 0
    for address in recipients:
        sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
    return sent


def send_threshold_crossed(*, target: Target, value: float | None) -> int:
    from reports.targets import support_lead_emails

    return send(
        to=support_lead_emails(),
        subject=f"[Support Desk] {target.metric} missed its threshold",
        template="reports/email/threshold.txt",
        context={"target": target, "value": value},
    )
