"""Token authentication and request rates of the API (core.api.authentication, throttling)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from supportdesk import embedded

TICKETS = "/api/v1/tickets/"
MINUTE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a window starts on the minute


@pytest.fixture(params=["redis", "local memory"])
def rate_cache(request, settings, monkeypatch):
    """3 requests a minute per user, counted in the test process's Redis (as deployed) or in
    the test suite's local-memory cache; keys under a prefix of the test's own."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "core.cache.RedisCache",
                "LOCATION": embedded.redis_url_with_db(settings.REDIS_URL, settings.TEST_REDIS_DB),
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            }
        }
    else:
        cache.clear()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    return request.param


def _codes(client: APIClient, count: int) -> list[int]:
    return [client.get(TICKETS).status_code for _ in range(count)]


def test_the_rate_slides_from_one_window_to_the_next_and_refusals_do_not_count(
    rate_cache, api_as, agent
):
    client = api_as(agent)

    with time_machine.travel(MINUTE + timedelta(seconds=10), tick=False):
        assert _codes(client, 5) == [200, 200, 200, 429, 429]
        refused = client.get(TICKETS)
    # Full until this window ends, 50 s on.
    assert refused["Retry-After"] == "51"
    assert refused.json()["errors"][0]["code"] == "throttled"

    # Half-way through the next minute the last one's 3 count for 1.5: room for one more
    # and another (2.5), not a third (3.5). Had the refusals counted (5 × 0.5), one only.
    with time_machine.travel(MINUTE + timedelta(seconds=90), tick=False):
        assert _codes(client, 3) == [200, 200, 429]
        refused = client.get(TICKETS)
    # 3 × (1 - 40/60) + 2 = 3 at 40 s into the window: free again just after.
    assert refused["Retry-After"] == "11"
    with time_machine.travel(MINUTE + timedelta(seconds=100), tick=False):
        assert _codes(client, 1) == [429]
    with time_machine.travel(MINUTE + timedelta(seconds=101), tick=False):
        assert _codes(client, 2) == [200, 429]


def test_each_user_has_a_rate_of_their_own(rate_cache, api_as, agent, stranger):
    with time_machine.travel(MINUTE, tick=False):
        assert _codes(api_as(agent), 4) == [200, 200, 200, 429]
        assert _codes(api_as(stranger), 1) == [200]


def test_a_token_signs_its_user_in(api_as, agent):
    token, _ = Token.objects.get_or_create(user=agent)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["email"] == agent.email


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token nosuchtoken", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
    ],
)
def test_a_wrong_token_is_refused(db, header, detail):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(TICKETS)

    assert response.status_code == 401
    assert response.json()["errors"][0]["detail"] == detail


def test_the_token_of_an_inactive_user_is_refused(agent):
    token, _ = Token.objects.get_or_create(user=agent)
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get(TICKETS)

    assert response.status_code == 401
    assert response.json()["errors"][0]["detail"] == "User inactive or deleted."
