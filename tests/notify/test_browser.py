"""My notification rules and the notifications badge in a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from incidents.notify.models import NotificationRule
from incidents.notify.services import notify
from tests.browser import log_in
from tests.core.factories import AgentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ["SCREENSHOT_DIR"]) if os.environ.get("SCREENSHOT_DIR") else None


def test_an_agent_sets_rules_and_reads_a_desk_notification(page, live_server):  # noqa: F811
    agent = AgentFactory.create(first_name="Ravi", last_name="Iyer")
    notify(
        recipient=agent, subject="[P1] JupyterHub down", body="503 on every login", key="p1",
        actions={"Acknowledge": "https://desk.example/ack", "Resolve": "https://desk.example/res"},
    )  # fmt: skip
    log_in(page, live_server.url, agent.email)

    # The badge arrives after the page (htmx), with one unread notification.
    expect(page.locator(".nav-notifications .badge")).to_have_text("1")
    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="My notification rules").click()
    expect(page.get_by_role("heading", name="My notification rules")).to_be_visible()

    page.get_by_label("Kind").select_option("sms")
    page.get_by_label("Address").fill("+49 151")
    page.get_by_role("button", name="Add the contact method").click()
    expect(page.get_by_text("Enter the number in international (E.164) form")).to_be_visible()
    page.get_by_label("Address").fill("+4915112345678")
    page.get_by_role("button", name="Add the contact method").click()
    expect(page.get_by_text("Added SMS: +4915112345678.")).to_be_visible()

    page.get_by_label("Importance").first.select_option("important")
    page.get_by_label("Channel").select_option("sms")
    page.get_by_label("After (minutes)").fill("1")
    page.get_by_role("button", name="Add the rule").click()
    expect(page.get_by_text("Added to your important rules: SMS after 1 min.")).to_be_visible()
    expect(page.get_by_label("Important rules")).to_contain_text("SMS after 1 min")
    assert list(NotificationRule.objects.values_list("importance", "channel", "delay_minutes")) == [
        ("important", "sms", 1)
    ]
    if SHOTS:
        page.screenshot(path=str(SHOTS / "notify-rules.png"), full_page=True)

    page.get_by_role("link", name="Notifications").first.click()
    expect(page.get_by_text("[P1] JupyterHub down")).to_be_visible()
    expect(page.get_by_role("link", name="Acknowledge")).to_have_attribute(
        "href", "https://desk.example/ack"
    )
    if SHOTS:
        page.screenshot(path=str(SHOTS / "notify-notifications.png"), full_page=True)
    page.get_by_role("button", name="Mark read").click()
    expect(page.get_by_text("Marked read.")).to_be_visible()
    expect(page.locator(".nav-notifications .badge")).to_have_count(0)
