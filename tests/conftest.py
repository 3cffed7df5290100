from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import User
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory, UserFactory

# The browser fixtures, one Playwright per test process for every browser test.
pytest_plugins = ["tests.browser"]


class RecordingBroker(list[dict[str, Any]]):
    """Stands in for Celery's broker: records each task sent, or fails like a broker that is
    down when `error` is set."""

    error: Exception | None = None

    def send(self, *args: Any, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        self.append({"kwargs": kwargs.get("kwargs"), "queue": kwargs.get("queue")})


@pytest.fixture(autouse=True)
def enqueued(request: pytest.FixtureRequest) -> Iterator[RecordingBroker]:
    """What would have been handed to Celery: tests assert it, nothing reaches a broker.

    Tests marked `worker` or `faults` talk to a real broker instead. Nothing else may patch
    `apply_async`: a second patch over this one leaves a stub behind for later tests.
    """
    broker = RecordingBroker()
    if request.node.get_closest_marker("worker") or request.node.get_closest_marker("faults"):
        yield broker
        return
    with mock.patch("core.tasks.outbox_deliver.apply_async", side_effect=broker.send):
        yield broker


@pytest.fixture
def api_as() -> Callable[[User | None], APIClient]:
    """An API client signed in with the user's token (or anonymous for None)."""

    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def community(db):
    return CommunityFactory.create()


@pytest.fixture
def representative(community) -> User:
    return MembershipFactory.create(community=community, role="representative").user


@pytest.fixture
def member(community) -> User:
    return MembershipFactory.create(community=community, role="member").user


@pytest.fixture
def agent(db) -> User:
    return AgentFactory.create()


@pytest.fixture
def outsider(db) -> User:
    """A representative of another community."""
    return MembershipFactory.create(role="representative").user


@pytest.fixture
def stranger(db) -> User:
    """Signed in, member of nothing."""
    return UserFactory.create()
