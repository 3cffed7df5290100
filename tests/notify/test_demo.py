"""The demo agents' notification rules."""

import pytest

from incidents.notify.demo import AGENTS, seed
from incidents.notify.models import NotificationRule
from supportdesk.management.commands.seed_demo import DEMO_SEEDERS
from tests.core.factories import AgentFactory

pytestmark = pytest.mark.django_db


def rules_of(user):
    return [
        (
            r.importance,
            r.position,
            r.channel,
            r.delay_minutes,
            r.contact_method and r.contact_method.address,
        )
        for r in NotificationRule.objects.filter(user=user).order_by("importance", "position")
    ]


def test_seed_demo_runs_the_notification_seeder():
    assert "incidents.notify.demo.seed" in DEMO_SEEDERS


def test_without_a_gateway_important_pages_reach_the_desk(settings):
    settings.PAGING_SMS_GATEWAY_URL = ""
    agent = AgentFactory.create(email="agent3@example.com")

    seed()
    seed()  # idempotent

    assert rules_of(agent) == [
        ("default", 0, "email", 0, None), ("default", 1, "desk", 0, None),
        ("important", 0, "email", 0, None), ("important", 1, "desk", 0, None),
    ]  # fmt: skip
    assert list(agent.contact_methods.values_list("kind", "address")) == [
        ("sms", AGENTS["agent3@example.com"])
    ]


def test_with_a_gateway_important_pages_send_an_sms_a_minute_later(settings):
    settings.PAGING_SMS_GATEWAY_URL = "https://sms.example/send"
    agent = AgentFactory.create(email="agent4@example.com")

    seed()

    assert rules_of(agent)[2:] == [
        ("important", 0, "email", 0, None), ("important", 1, "sms", 1, "+12025550104"),
    ]  # fmt: skip


def test_an_agent_with_rules_of_their_own_keeps_them(settings):
    agent = AgentFactory.create(email="agent1@example.com")
    NotificationRule.objects.create(user=agent, channel="desk", delay_minutes=3)

    seed()

    assert rules_of(agent) == [("default", 0, "desk", 3, None)]
