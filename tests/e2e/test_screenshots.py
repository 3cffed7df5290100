"""The pages people spend their time on, with the demo data; `make screenshots`
keeps a picture of each in docs/screenshots/."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from core.models import EventDelivery
from core.outbox import delivery_run
from tests.browser import log_in, screenshot
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    """The demo data as `make run` shows it once its worker has caught up: routed, with
    its SLA clocks running (the deliveries a worker would run, run here in order)."""
    call_command("seed_demo")
    for _ in range(10):
        pending = list(
            EventDelivery.objects.filter(state="pending")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pending:
            break
        for delivery_id in pending:
            delivery_run(delivery_id=delivery_id)
    assert not EventDelivery.objects.filter(state="pending").exists()


def test_desk_queue_and_ticket_page(page, live_server, demo):
    log_in(page, live_server.url, "agent3@example.com", "demo-password")

    expect(page.get_by_role("heading", name="All tickets")).to_be_visible()
    expect(page.get_by_text("JupyterHub down: users get 503 on login")).to_be_visible()
    screenshot(page, "desk-queue")

    ticket = Ticket.objects.get(subject="JupyterHub down: users get 503 on login")
    page.goto(f"{live_server.url}/desk/tickets/{ticket.reference}/")
    expect(page.get_by_text("The proxy pod is in CrashLoopBackOff")).to_be_visible()
    expect(page.get_by_text("Internal note").first).to_be_visible()
    expect(page.get_by_role("heading", name="Why was this routed here?")).to_be_visible()
    expect(page.get_by_role("heading", name="SLA clocks")).to_be_visible()
    screenshot(page, "desk-ticket")


def test_portal_home_and_new_request(page, live_server, demo):
    log_in(page, live_server.url, "rep@aurora.example", "demo-password")

    expect(
        page.get_by_text("Please add the xarray-spatial package to the default image").first
    ).to_be_visible()
    expect(page.get_by_text("Waiting for your approval")).to_be_visible()
    screenshot(page, "portal-home")

    page.goto(f"{live_server.url}/portal/new/")
    expect(page.get_by_role("heading", name="New request")).to_be_visible()
    screenshot(page, "portal-new-request")


def test_desk_pages_and_a_page_acknowledged(page, live_server, demo):
    from incidents.paging.models import Page

    paged = Page.objects.get(cause="critical_ticket")
    log_in(page, live_server.url, "agent3@example.com", "demo-password")

    page.goto(f"{live_server.url}/desk/pages/")
    expect(page.get_by_role("heading", name="Pages")).to_be_visible()
    expect(page.get_by_text("JupyterHub down").first).to_be_visible()
    screenshot(page, "desk-pages")

    page.goto(f"{live_server.url}/desk/pages/{paged.pk}/")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged").first).to_be_visible()
    screenshot(page, "desk-page")
    paged.refresh_from_db()
    assert paged.state == "acknowledged"
