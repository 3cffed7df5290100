"""The Celery application. Task names, queues, limits and the beat schedule are in settings."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery, bootsteps, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings.local")

app = Celery("supportdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_PREFIX = "supportdesk:worker:"
HEARTBEAT_EVERY = 5.0
HEARTBEAT_TTL = 30


def _redis() -> Any:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(
        settings.WORKER_HEARTBEAT_REDIS_URL, socket_connect_timeout=2, socket_timeout=2
    )


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Each worker says it is alive by refreshing a short-lived key in Redis.

    /readyz reads these keys. Celery's own remote-control ping travels over Redis
    pub/sub and loses replies often enough to make a readiness probe flap.
    """

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.timer_ref: Any = None

    def start(self, worker: Any) -> None:
        self.beat(worker)
        self.timer_ref = worker.timer.call_repeatedly(HEARTBEAT_EVERY, self.beat, (worker,))

    def stop(self, worker: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
        _redis().delete(f"{HEARTBEAT_PREFIX}{worker.hostname}")

    def beat(self, worker: Any) -> None:
        _redis().set(f"{HEARTBEAT_PREFIX}{worker.hostname}", f"{time.time():.0f}", ex=HEARTBEAT_TTL)


def live_workers() -> list[str]:
    """Names of the workers whose heartbeat is fresh."""
    return sorted(
        key.decode().removeprefix(HEARTBEAT_PREFIX)
        for key in _redis().scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100)
    )


app.steps["worker"].add(WorkerHeartbeat)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(*, task: Any = None, **kwargs: Any) -> None:
    """What Django does around a request, around each task in a worker: close a connection
    that is past CONN_MAX_AGE, broke, or fails its health check, and keep the others
    (CELERY_DB_REUSE_MAX stops Celery's fixup from closing every connection each time)."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # run in the caller's process, maybe inside its transaction
    from django.db import close_old_connections as close

    close()
