import pytest

from tests.browser import log_in
from tests.core.factories import AgentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_logs_in_and_lands_on_the_desk(page, live_server):
    agent = AgentFactory.create(email="lena@desk.example")

    log_in(page, live_server.url, agent.email)

    assert page.url == f"{live_server.url}/desk/"
    assert page.get_by_role("link", name="Desk", exact=True).get_attribute("aria-current") == "page"


def test_a_wrong_password_is_refused_beside_the_form(page, live_server):
    AgentFactory.create(email="lena@desk.example")

    log_in(page, live_server.url, "lena@desk.example", "wrong")

    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("alert").is_visible()
