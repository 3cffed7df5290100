"""The reports in a real browser, on the demo data: an agent narrows the Support dashboard,
follows a figure to the tickets behind it and downloads them as CSV; a representative reads
the portal's reports and sees their own community only. With SCREENSHOT_DIR set, a picture
of each dashboard and of the portal's page is kept."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Download, Page, expect

from communities.models import Community
from core.models import EventDelivery
from core.outbox import delivery_run
from reports.models import Target
from reports.targets import DEFAULT_TARGETS
from tests.browser import log_in, screenshot
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-password"


@pytest.fixture
def demo() -> None:
    """The demo data with the reactions a worker would have run (routing, clocks, priority),
    and the default targets (a data migration's rows, which this test's database flush
    removes after every test)."""
    for default in DEFAULT_TARGETS:
        Target.objects.get_or_create(
            metric=default.metric,
            defaults={"direction": default.direction, "target": default.target,
                      "threshold": default.threshold, "source": default.source},
        )  # fmt: skip
    call_command("seed_demo")
    while pending := list(
        EventDelivery.objects.filter(state="pending").order_by("pk").values_list("pk", flat=True)
    ):
        for delivery_id in pending:
            delivery_run(delivery_id=delivery_id)


def rows_of(download: Download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


def show(page: Page, **choices: str) -> None:
    """Pick the options shown as `label` in the filters named, then Show."""
    filters = page.get_by_role("form", name="Report filters")
    for name, label in choices.items():
        filters.locator(f'select[name="{name}"]').select_option(label=label)
    filters.get_by_role("button", name="Show").click()
    page.wait_for_load_state("networkidle")


def test_an_agent_narrows_the_support_dashboard_drills_down_and_downloads_the_tickets(
    page, live_server, demo
):
    aurora = Community.objects.get(slug="aurora")
    log_in(page, live_server.url, "agent3@example.com", PASSWORD)

    page.goto(f"{live_server.url}/desk/reports/")
    expect(page.get_by_role("heading", name="Support", exact=True)).to_be_visible()
    expect(page.get_by_text("Last 30 days. Click a figure")).to_be_visible()

    show(page, period="Last 90 days", community="Aurora Climate Hub")
    expect(page).to_have_url(re.compile(r"period=90d.*community=aurora"))
    expect(page.get_by_text("Last 90 days · Aurora Climate Hub.")).to_be_visible()
    opened_card = page.locator('article[data-metric="volume"]')
    shown = opened_card.locator(".figure").inner_text()
    expected = Ticket.objects.filter(community=aurora, tags__contains=["demo-history"]).count()
    assert int(shown) >= expected > 0  # the demo's history, and its live tickets if new

    opened_card.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Tickets opened")).to_be_visible()
    expect(page.get_by_text(f"{shown} tickets · Last 90 days · Aurora Climate Hub")).to_be_visible()
    table = page.locator('table[data-table="tickets"] tbody tr')
    expect(table).to_have_count(int(shown))
    communities = table.locator("td:nth-child(3)").all_inner_texts()
    assert set(communities) == {"Aurora Climate Hub"}

    with page.expect_download() as downloading:
        page.get_by_role("link", name="CSV").click()
    rows = rows_of(downloading.value)
    assert downloading.value.suggested_filename == "volume-tickets.csv"
    assert rows[0] == ["Reference", "Subject", "Community", "Status", "Severity", "Tier", "Created"]
    assert sorted(r[0] for r in rows[1:]) == sorted(
        table.locator("td:first-child").all_inner_texts()
    )

    first = table.first.get_by_role("link")
    reference = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(f"/desk/tickets/{reference}/$"))


def test_an_agent_downloads_a_dashboard_table_as_shown(page, live_server, demo):
    log_in(page, live_server.url, "agent3@example.com", PASSWORD)
    page.goto(f"{live_server.url}/desk/reports/community/")
    section = page.locator('section.report-table:has(table[data-table="communities"])')
    cells = [row.locator("td").all_inner_texts() for row in section.locator("tbody tr").all()]
    with page.expect_download() as downloading:
        section.get_by_role("link", name="CSV").click()
    rows = rows_of(downloading.value)
    assert rows[0] == section.locator("thead th").all_inner_texts()
    assert rows[1:] == cells
    assert {"Aurora Climate Hub", "Open Tides Observatory"} <= {row[0] for row in rows[1:]}


def test_the_dashboards_render_with_the_demo_data(page, live_server, demo):
    log_in(page, live_server.url, "agent3@example.com", PASSWORD)
    for key, tab, title, marker in [
        ("support", "Support", "Support", 'article[data-metric="volume"]'),
        ("operations", "Operations", "Operations", 'table[data-table="backlog"]'),
        ("executive", "Executive", "Executive (monthly)", 'table[data-table="monthly"]'),
        ("community", "Community", "Communities", 'table[data-table="communities"]'),
    ]:
        page.goto(f"{live_server.url}/desk/reports/{key}/")
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        expect(page.locator(marker)).to_be_visible()
        tabs = page.get_by_role("navigation", name="Dashboards")
        expect(tabs.get_by_role("link", name=tab, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        screenshot(page, f"desk-reports-{key}")


def test_a_representative_sees_only_their_community_in_the_portal_reports(page, live_server, demo):
    log_in(page, live_server.url, "rep@aurora.example", PASSWORD)

    page.goto(f"{live_server.url}/portal/reports/")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    content = page.locator("main")
    expect(content.get_by_text("Aurora Climate Hub").first).to_be_visible()
    for other in ("Open Tides Observatory", "Kestrel Genomics", "Meridian Schools"):
        expect(content.get_by_text(other)).to_have_count(0)
    expect(page.locator('a[href*="/desk/"]')).to_have_count(0)  # no drill-down to the desk
    screenshot(page, "portal-reports")

    show(page, period="Last 90 days")
    expect(
        page.get_by_text("Last 90 days. Figures for the communities you represent")
    ).to_be_visible()
    with page.expect_download() as downloading:
        page.locator('section.report-table:has(table[data-table="communities"])').get_by_role(
            "link", name="CSV"
        ).click()
    assert [row[0] for row in rows_of(downloading.value)[1:]] == ["Aurora Climate Hub"]

    response = page.goto(f"{live_server.url}/portal/reports/open-tides/")
    assert response is not None
    assert response.status == 404
