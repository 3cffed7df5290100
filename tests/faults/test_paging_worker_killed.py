"""A worker killed with `kill -9` in the middle of an escalation step: the step is delayed,
neither dropped nor run twice. The step it was running rolls back, the next sweep hands the
page to another worker, which runs it once; the killed worker's message, delivered again,
changes nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import TestCase
from django.utils import timezone

from incidents.notify.models import Notification
from incidents.oncall.selectors import on_call
from incidents.paging.models import Page, PageEvent, Via
from incidents.paging.services import dispatch
from incidents.paging.services.pages import trigger_page
from incidents.paging.services.policies import policy_create
from incidents.paging.services.sweep import paging_sweep
from tests import processes
from tests.core.factories import AgentFactory
from tests.paging.conftest import weekly_schedule
from tests.processes import BASE_DIR, assert_tasks_really_published, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": processes.test_database_url(),
        "DJANGO_SETTINGS_MODULE": "supportdesk.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
    }
    name = f"pager-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-P", "solo", "-Q",
         "paging", "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def blocked_steps() -> list[int]:
    """Backends of this database waiting on a lock in the engine's conditional UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' "
            "AND query LIKE 'UPDATE \"paging_page\"%%'"
        )
        return [row[0] for row in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def paged(page: Page, user) -> int:
    return Notification.objects.filter(source="page", source_id=page.pk, recipient=user).count()


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_killed_mid_step_delays_the_step_but_neither_drops_nor_repeats_it(settings):
    assert_tasks_really_published()
    settings.PAGING_DISPATCH_LEASE_SECONDS = 1
    primary_people = [AgentFactory.create(), AgentFactory.create()]
    backup_people = [AgentFactory.create(), AgentFactory.create()]
    primary = weekly_schedule("Primary", primary_people)
    backup = weekly_schedule("Backup", backup_people)
    policy = policy_create(
        name="Critical",
        steps=[
            {"kind": "notify_on_call", "schedule": primary},
            {"kind": "wait", "wait_minutes": 5},
            {"kind": "notify_on_call", "schedule": backup},
            {"kind": "wait", "wait_minutes": 5},
        ],
    )
    now = timezone.now()
    first, second = on_call(primary, now), on_call(backup, now)
    assert first is not None
    assert second is not None
    with TestCase.captureOnCommitCallbacks(execute=True):
        page = trigger_page(
            cause="critical_ticket", dedup_key="db-down", title="Database down", details="",
            severity="critical", via=Via.API, policy=policy,
        )  # fmt: skip
    assert (paged(page, first), page.step_index) == (1, 2)

    # The wait is over, and the page's row is locked: the worker that takes the page stops
    # in the middle of the step's transaction, at the conditional UPDATE.
    Page.objects.filter(pk=page.pk).update(next_escalation_at=timezone.now())
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT id FROM paging_page WHERE id = %s FOR UPDATE", [page.pk])
    log = Path(tempfile.mkstemp(prefix="paging-worker-", suffix=".log")[1])
    worker = start_worker(log)
    try:
        dispatch.escalate_at(page_id=page.pk)
        wait_until(
            lambda: bool(blocked_steps()),
            timeout=60,
            what=lambda: f"a worker to block mid-step; log:\n{log.read_text()}",
        )
        (backend,) = blocked_steps()

        worker.send_signal(signal.SIGKILL)  # kill -9, mid-transaction
        worker.wait(timeout=10)
        holder.rollback()
        wait_until(lambda: not backend_alive(backend), timeout=30, what="the orphan to end")
        page.refresh_from_db()
        assert (page.step_index, paged(page, second)) == (2, 0)  # rolled back: not run

        # The next sweep hands the page to another worker, which runs the step once.
        since = log.stat().st_size
        worker = start_worker(log)
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert paging_sweep().dispatched == 1
        wait_until(
            lambda: paged(page, second) == 1,
            timeout=60,
            what=lambda: f"the backup to be paged; log:\n{log.read_text()}",
        )
        # The killed worker's message comes back (Redis redelivers unacknowledged ones),
        # and the sweep runs again: nothing more happens.
        dispatch.escalate_at(page_id=page.pk)
        with TestCase.captureOnCommitCallbacks(execute=True):
            paging_sweep()
        marker = PageEvent.objects.count()
        dispatch.escalate_at(page_id=page.pk)
        wait_until(
            lambda: advances(log, since) >= 3,
            timeout=30,
            what=lambda: f"the worker to run 3 messages: {advances(log, since)}",
        )
    finally:
        holder.close()
        stop(worker)
        log.unlink(missing_ok=True)

    page.refresh_from_db()
    assert (page.step_index, page.repeat, page.state) == (4, 0, "triggered")
    assert (paged(page, first), paged(page, second)) == (1, 1)
    assert PageEvent.objects.count() == marker
    notified = PageEvent.objects.filter(page=page, kind="notified")
    assert [e.detail["user_id"] for e in notified.order_by("id")] == [first.pk, second.pk]


def advances(log: Path, since: int) -> int:
    """paging.advance_pages messages the worker finished, from `since` on."""
    with log.open("rb") as f:
        f.seek(since)
        lines = [line for line in f.read().decode(errors="replace").splitlines()
                 if "paging.advance_pages[" in line]  # fmt: skip
    return sum("succeeded" in line for line in lines)
