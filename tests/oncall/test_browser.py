"""On call in a real browser (Debian's Chromium), with the demo data: from the rail to the
board, the calendar, and a cover of my shift. `make screenshots` keeps pictures."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from incidents.oncall.models import Override, Schedule
from incidents.oncall.selectors import on_call
from tests.browser import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_on_call_from_the_rail_to_a_cover(page, live_server):  # noqa: F811
    call_command("seed_demo")
    primary = Schedule.objects.get(name="Primary")
    person = on_call(primary, timezone.now())
    assert person is not None
    log_in(page, live_server.url, person.email, "demo-password")

    page.get_by_role("link", name="On call", exact=True).click()
    expect(page.get_by_role("heading", name="On call now")).to_be_visible()
    row = page.locator(f'tr[data-schedule="{primary.pk}"]')
    expect(row.locator("td.who")).to_have_text(person.display_name)
    expect(row.locator("td.backup")).to_contain_text("Backup:")
    screenshot(page, "desk-oncall-now")

    row.get_by_role("link", name="Week").click()
    expect(page.get_by_role("heading", name="Primary")).to_be_visible()
    expect(page.locator("tr.row-final").first).to_contain_text(person.display_name)
    screenshot(page, "desk-oncall-calendar")
    page.get_by_role("link", name="Month").click()
    expect(page.get_by_role("strong").filter(has_text="Month")).to_be_visible()

    page.goto(f"{live_server.url}/desk/oncall/")
    page.get_by_role("link", name="Ask a colleague to cover").first.click()
    expect(page.get_by_role("heading", name="Cover my shift")).to_be_visible()
    page.get_by_label("Colleague who covers").select_option(
        label="Mia Chen" if person.first_name != "Mia" else "Sam Okafor"
    )
    page.get_by_label("Reason").fill("Dentist")
    page.get_by_role("button", name="Hand over this time").click()
    expect(page.get_by_text("covers you on Primary")).to_be_visible()
    override = Override.objects.get(reason="Dentist")
    assert override.created_by == person
    assert on_call(primary, timezone.now()) == override.user
