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


@pytest.fixture(autouse=True)
def enqueued(request: pytest.FixtureRequest) -> Iterator[list[dict[str, Any]]]:
    """What would have been handed to Celery: tests assert it, nothing reaches a broker.

    Tests marked `worker` or `faults` talk to a real broker instead.
    """
    if request.node.get_closest_marker("worker") or request.node.get_closest_marker("faults"):
        yield []
        return
    calls: list[dict[str, Any]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append({"kwargs": kwargs.get("kwargs"), "queue": kwargs.get("queue")})

    with mock.patch("core.tasks.outbox_deliver.apply_async", side_effect=record):
        yield calls


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
