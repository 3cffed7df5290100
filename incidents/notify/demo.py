"""Demo notification rules for the demo agents, who take the on-call shifts.

Run by `manage.py seed_demo` (DEMO_SEEDERS). Idempotent: an agent who has rules already
keeps them.

- Default: an email and a desk notification at once.
- Important: an email at once, then an SMS a minute later when an SMS gateway is
  configured (PAGING_SMS_GATEWAY_URL), else a desk notification at once. (Seed 002: the
  on-call engineer is paged by phone; without a gateway the demo pages on the desk.)
"""

from __future__ import annotations

from django.conf import settings

from core.models import User
from incidents.notify.models import Channel, ContactMethod, NotificationRule
from incidents.notify.services import contact_method_create, rule_create

# The demo agents and their (fictional, 555-01xx) phone numbers.
AGENTS = {
    "agent1@example.com": "+12025550101",
    "agent2@example.com": "+12025550102",
    "agent3@example.com": "+12025550103",
    "agent4@example.com": "+12025550104",
}


def seed() -> None:
    for email, phone in AGENTS.items():
        agent = User.objects.filter(email=email).first()
        if agent is None or NotificationRule.objects.filter(user=agent).exists():
            continue
        method = ContactMethod.objects.filter(user=agent, kind="sms", address=phone).first()
        if method is None:
            method = contact_method_create(user=agent, kind="sms", address=phone, label="mobile")
        rule_create(user=agent, importance="default", channel=Channel.EMAIL, delay_minutes=0)
        rule_create(user=agent, importance="default", channel=Channel.DESK, delay_minutes=0)
        rule_create(user=agent, importance="important", channel=Channel.EMAIL, delay_minutes=0)
        if settings.PAGING_SMS_GATEWAY_URL:
            rule_create(
                user=agent,
                importance="important",
                channel=Channel.SMS,
                delay_minutes=1,
                contact_method=method,
            )
        else:
            rule_create(user=agent, importance="important", channel=Channel.DESK, delay_minutes=0)
