"""Pages both agents and members use: sign-in, profile, the relative times, security headers."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.core.factories import AgentFactory, UserFactory
from web.templatetags.web import relative, reltime

pytestmark = pytest.mark.django_db


def test_home_sends_agents_to_the_desk_and_members_to_the_portal(client):
    client.force_login(AgentFactory.create())
    assert client.get("/")["Location"] == "/desk/"
    client.force_login(UserFactory.create())
    assert client.get("/")["Location"] == "/portal/"


def test_anonymous_visitors_are_asked_to_sign_in(client):
    assert client.get("/")["Location"] == "/accounts/login/?next=/"


def test_a_person_sets_their_time_zone_and_times_follow_it(client):
    person = UserFactory.create()
    client.force_login(person)

    refused = client.post(
        "/accounts/profile/", {"first_name": "Ada", "last_name": "L", "time_zone": "Mars/Base"}
    )
    saved = client.post(
        "/accounts/profile/", {"first_name": "Ada", "last_name": "L", "time_zone": "Asia/Tokyo"}
    )

    assert refused.status_code == 400
    assert "Mars/Base" in refused.context["form"].errors["time_zone"][0]
    assert saved.status_code == 302
    person.refresh_from_db()
    assert (person.first_name, person.time_zone) == ("Ada", "Asia/Tokyo")
    page = client.get("/accounts/profile/")
    assert page.context["user"].time_zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=-10), "just now"),
        (timedelta(seconds=20), "in a moment"),
        (timedelta(minutes=-3), "3 min ago"),
        (timedelta(minutes=12), "in 12 min"),
        (timedelta(hours=-3), "3 h ago"),
        (timedelta(hours=-23, minutes=-40), "1 d ago"),
        (timedelta(days=-3), "3 d ago"),
        (timedelta(days=-45), "2 mo ago"),
        (timedelta(days=-800), "2 y ago"),
    ],
)
def test_relative_times(offset, text):
    now = timezone.now()
    assert relative(now + offset, now) == text


def test_a_time_shows_the_exact_local_time_on_hover():
    with time_machine.travel("2026-11-25 12:00:00+00:00", tick=False):
        timezone.activate("Europe/Berlin")
        try:
            html = reltime(timezone.now() - timedelta(hours=3))
        finally:
            timezone.deactivate()
    assert html == (
        '<time datetime="2026-11-25T09:00:00+00:00" title="2026-11-25 10:00 CET">3 h ago</time>'
    )


def test_pages_carry_security_headers(client):
    client.force_login(UserFactory.create())
    response = client.get("/portal/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_login_form_refuses_a_post_without_its_csrf_token():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    UserFactory.create(email="pat@example.org")
    response = strict.post(
        "/accounts/login/", {"username": "pat@example.org", "password": "pw-for-tests"}
    )
    assert response.status_code == 403


def test_a_fields_help_text_is_what_its_input_is_described_by():
    from django import forms
    from django.template.loader import render_to_string

    class Form(forms.Form):
        reason = forms.CharField(help_text="Kept in the ticket's history.")

    html = render_to_string("web/partials/field.html", {"field": Form()["reason"]})

    assert 'aria-describedby="id_reason_helptext"' in html
    assert '<small id="id_reason_helptext" class="help">Kept in the ticket' in html
