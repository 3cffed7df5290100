"""An incident in a real browser: declared from a ticket, an update posted, the
representative sees the banner and the reply on their ticket, resolved with the final
update, the postmortem written. (The fan-out that workers run is run here in-process.)"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from incidents.defaults import defaults_ensure
from incidents.models import Incident, Postmortem, StatusUpdate
from incidents.services.updates import update_fan_out, update_replies_send
from tests.browser import log_in, screenshot
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tickets.services.lifecycle import ticket_open

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _second_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    return context.new_page()


def _run_fan_outs() -> None:
    """What the workers do after an update is posted."""
    for update in StatusUpdate.objects.filter(fanout_done_at__isnull=True):
        for batch in update_fan_out(update_id=update.pk):
            update_replies_send(update_id=update.pk, reply_ids=batch)


def test_declare_update_banner_reply_resolve_postmortem(page, browser, live_server):
    defaults_ensure()  # an earlier browser test's flush removed the migration's templates
    community = CommunityFactory.create(name="Aurora Climate Hub")
    representative = MembershipFactory.create(community=community, role="representative").user
    agent = AgentFactory.create(first_name="Ravi", last_name="Iyer")
    ticket = ticket_open(
        community=community, requester=representative, opened_by=representative,
        subject="The hub API answers 503", description="Every call fails since 09:10.",
    )  # fmt: skip

    # the agent declares the incident from the ticket
    log_in(page, live_server.url, agent.email)
    page.goto(f"{live_server.url}/desk/tickets/{ticket.reference}/")
    page.get_by_role("link", name="Declare an incident").click()
    expect(page.get_by_label("Title")).to_have_value("The hub API answers 503")
    page.get_by_label("Severity").select_option("SEV1")
    screenshot(page, "desk-incident-declare")
    page.get_by_role("button", name="Declare").click()
    incident = Incident.objects.get()
    expect(
        page.get_by_role("heading", name=f"{incident.reference} The hub API answers 503")
    ).to_be_visible()
    assert incident.commander == agent
    assert incident.page_id is not None

    # …starts from the seed 001 template and posts the first update
    page.get_by_role("link", name="Incident notification (seed 001 §7.2.1)").click()
    body = page.get_by_label("Public update")
    expect(body).to_have_value(re.compile(f"Service Incident - {incident.reference}"))
    body.fill(
        "Dear [Customer Name], we are investigating failing API calls. Next update in 30 minutes."
    )
    page.get_by_role("button", name="Post the update").click()
    expect(page.get_by_text("Posted the update")).to_be_visible()
    screenshot(page, "desk-incident")
    _run_fan_outs()

    # the representative sees the banner and the reply on their ticket
    portal = _second_page(browser)
    log_in(portal, live_server.url, representative.email)
    portal.goto(f"{live_server.url}/portal/")
    banner = portal.get_by_role("status").filter(has_text=incident.reference)
    expect(banner).to_contain_text(
        "Dear Aurora Climate Hub, we are investigating failing API calls."
    )
    screenshot(portal, "portal-incident-banner")
    portal.goto(f"{live_server.url}/portal/tickets/{ticket.reference}/")
    reply = portal.locator("[id^=message-]").get_by_text("Dear Aurora Climate Hub, we are")
    expect(reply).to_be_visible()

    # resolving needs the final update
    page.locator("#update_status").select_option("resolved")
    page.get_by_label("Public update").fill(
        "Dear [Customer Name], the API works again. Root cause: a full disk."
    )
    page.get_by_role("button", name="Post the update").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    _run_fan_outs()
    portal.goto(f"{live_server.url}/portal/")
    expect(portal.get_by_role("status").filter(has_text=incident.reference)).to_have_count(0)
    portal.goto(f"{live_server.url}/portal/incidents/")
    expect(
        portal.get_by_role("link", name=f"{incident.reference} The hub API answers 503")
    ).to_be_visible()
    screenshot(portal, "portal-incidents")

    # the postmortem
    page.get_by_label("Move to").select_option("postmortem")
    page.get_by_role("button", name="Move").click()
    expect(page.locator("#incident-status")).to_have_text("Postmortem")
    page.get_by_label("Root cause").fill("The log volume filled up; no alert on disk usage.")
    page.get_by_role("button", name="Save the postmortem").click()
    expect(page.get_by_text("Postmortem saved.")).to_be_visible()
    page.get_by_label("Action item").fill("Alert at 80 % disk usage")
    page.locator("#item_owner").select_option(str(agent.pk))
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Added the action item")).to_be_visible()
    screenshot(page, "desk-incident-postmortem")
    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.root_cause == "The log volume filled up; no alert on disk usage."
    assert "Declared SEV1" in postmortem.timeline
