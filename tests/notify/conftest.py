"""Fixtures of the notification tests: what would be handed to the `paging` workers, and a
local HTTP server standing in for webhook receivers and the SMS gateway."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest

from incidents.notify import sending
from tests.core.factories import AgentFactory


@pytest.fixture(autouse=True)
def sends(request: pytest.FixtureRequest) -> Iterator[list[tuple[int, int | None]]]:
    """The `notify.send_delivery` tasks published, as (delivery id, attempt); nothing reaches
    a broker, except in tests marked `worker`."""
    published: list[tuple[int, int | None]] = []
    if request.node.get_closest_marker("worker"):
        yield published
        return

    def record(delivery_id: int, attempt: int | None) -> None:
        published.append((delivery_id, attempt))

    with mock.patch.object(sending, "_publish", side_effect=record):
        yield published


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server: answers each POST with the next of `answers` (status, body,
    seconds to wait first); the last one repeats."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, str, float]] = field(default_factory=lambda: [(200, "{}", 0.0)])

    def answer(self, *answers: tuple[int, str, float] | tuple[int, str]) -> None:
        self.answers = [(a[0], a[1], a[2] if len(a) > 2 else 0.0) for a in answers]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    server: ThreadingHTTPServer
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                index = len(state.received) - 1
                status, text, wait = state.answers[min(index, len(state.answers) - 1)]
            if wait:
                time.sleep(wait)
            encoded = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                self.wfile.write(encoded)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    settings.PAGING_WEBHOOK_HTTP_HOSTS = ["127.0.0.1"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def person(db):
    return AgentFactory.create(email="oncall@desk.example")


def run_due(sends: list[tuple[int, int | None]]) -> list[str | None]:
    """What the workers do with the tasks published so far."""
    done = [sending.deliver(delivery_id=i, attempt=a) for i, a in sends]
    sends.clear()
    return done


Runner = Callable[[list[tuple[int, int | None]]], list[str | None]]
