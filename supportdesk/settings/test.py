"""The test suite: `make test`. Still PostgreSQL and (where a test asks) real Redis and Celery."""

import os
import tempfile
from pathlib import Path

from supportdesk import embedded
from supportdesk.settings.base import *  # noqa: F403
from supportdesk.settings.base import DATABASES, REDIS_URL, REST_FRAMEWORK, STATIC_ROOT

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Each test process gets its own cache; tests that need Redis itself connect to it.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests change the agents from one request to the next: pages read them afresh each time.
DESK_AGENT_LIST_SECONDS = 0
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="supportdesk-test-media-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
# Commits need not reach the disk before a test goes on.
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["options"] = "-c synchronous_commit=off"
DATABASES["default"]["CONN_MAX_AGE"] = 0
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min"},
}
# Each test process gets a database of its own, so that test runs side by side (several
# pytest-xdist processes, or several runs on one machine) never share one. The Celery workers
# a test starts are handed the resolved name (tests/processes.py).
DATABASES["default"]["TEST"] = {"NAME": f"test_supportdesk_{os.getpid()}"}


def redis_db_of_test_process(*, pid: int, parent: int, worker: str, workers: int) -> int:
    """The Redis database of a test process, 2 to 15. The processes of one pytest-xdist run
    (gw0, gw1... under one parent) take neighbouring numbers, so two of them never share
    one, whatever their pids; another run takes another block, by its parent's pid. A run
    without xdist goes by its own pid."""
    if worker.startswith("gw") and workers > 0:
        blocks = max(1, 14 // workers)
        return 2 + ((parent % blocks) * workers + int(worker[2:])) % 14
    return 2 + pid % 14


# Likewise a Redis database, 2 to 15, away from `make run` (0) and the benchmarks (1); the
# workers a test starts are told which (TEST_REDIS_DB in their environment).
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", 0)) or redis_db_of_test_process(
    pid=os.getpid(),
    parent=os.getppid(),
    worker=os.environ.get("PYTEST_XDIST_WORKER", ""),
    workers=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0),
)
_TEST_REDIS_URL = embedded.redis_url_with_db(REDIS_URL, TEST_REDIS_DB)
CELERY_BROKER_URL = embedded.celery_url(_TEST_REDIS_URL)
WORKER_HEARTBEAT_REDIS_URL = _TEST_REDIS_URL
