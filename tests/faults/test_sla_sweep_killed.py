"""A worker killed with `kill -9` in the middle of an SLA sweep loses no breach and doubles
none: the batches it committed stay recorded once, the batch it was writing rolls back, and
the next sweep records that batch once."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from core import outbox
from core.models import Event
from slas.models import ClockEvent, SLATarget
from slas.tasks import sweep
from tests import processes
from tests.processes import BASE_DIR, assert_tasks_really_published, wait_until
from tests.slas.test_sweep import running_targets

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
]

CLOCKS = 300
BATCH = 100


def start_sweeper(log: Path) -> subprocess.Popen[bytes]:
    """A real Celery worker on the `slas` queue, sweeping BATCH clocks per transaction."""
    env = {
        **os.environ,
        "DATABASE_URL": processes.test_database_url(),
        "DJANGO_SETTINGS_MODULE": "supportdesk.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
        "SLA_SWEEP_BATCH_SIZE": str(BATCH),
    }
    name = f"sweeper-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-P", "solo", "-Q", "slas",
         "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def blocked_sweeps() -> list[int]:
    """Backends of this database waiting on a lock in the middle of a sweep statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' "
            "AND query LIKE '%%UPDATE slas_slatarget%%'"
        )
        return [row[0] for row in cursor.fetchall()]


def activity():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database()"
        )
        return cursor.fetchall()


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def counts() -> tuple[int, int, int]:
    return (
        SLATarget.objects.filter(state="breached").count(),
        ClockEvent.objects.filter(kind="breached").count(),
        Event.objects.filter(name="sla.breached").count(),
    )


def expected(clocks: int) -> tuple[int, int, int]:
    """Breaches, their history and their events (stored when something reacts to them)."""
    return (clocks, clocks, clocks if outbox.reactions_to("sla.breached") else 0)


def test_a_sweeper_killed_mid_sweep_loses_no_breach_and_doubles_none():
    assert_tasks_really_published()
    targets = running_targets(CLOCKS, due=timezone.now() - timedelta(hours=1))
    # The second batch records the breach of the 151st clock due. An uncommitted record of
    # that breach, in another transaction, makes the batch wait on the unique index
    # `clock_warns_and_breaches_once` in the middle of its statement, after the first batch
    # has committed. (Foreign keys are checked at commit: they lock nothing here.)
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute(
            "INSERT INTO slas_clockevent (target_id, ticket_id, kind, at, data, created_at) "
            "VALUES (%s, %s, 'breached', now(), '{}', now())",
            [targets[150].pk, targets[150].ticket_id],
        )
    log = Path(tempfile.mkstemp(prefix="sla-sweeper-", suffix=".log")[1])
    sweeper = start_sweeper(log)
    try:
        sweep.apply_async()
        wait_until(
            lambda: bool(blocked_sweeps()),
            timeout=40,
            what=lambda: f"a sweep to block mid-batch; {activity()}; {counts()}",
        )
        (backend,) = blocked_sweeps()
        assert counts() == expected(BATCH)  # the first batch, committed

        sweeper.send_signal(signal.SIGKILL)  # kill -9, mid-transaction
        sweeper.wait(timeout=10)
        holder.rollback()
        wait_until(lambda: not backend_alive(backend), timeout=30, what="the orphan to end")
        assert counts() == expected(BATCH)  # the interrupted batch rolled back

        sweeper = start_sweeper(log)
        sweep.apply_async()
        wait_until(
            lambda: counts()[0] == CLOCKS,
            timeout=40,
            what=lambda: f"the next sweep; {counts()}; worker log:\n{log.read_text()}",
        )
    finally:
        holder.close()
        if sweeper.poll() is None:
            sweeper.send_signal(signal.SIGTERM)
            try:
                sweeper.wait(timeout=15)
            except subprocess.TimeoutExpired:
                sweeper.kill()
                sweeper.wait()
        log.unlink(missing_ok=True)

    assert counts() == expected(CLOCKS)
    assert sorted(
        ClockEvent.objects.filter(kind="breached").values_list("target_id", flat=True)
    ) == sorted(t.pk for t in targets)
    if outbox.reactions_to("sla.breached"):
        assert sorted(
            Event.objects.filter(name="sla.breached").values_list("payload__target_id", flat=True)
        ) == sorted(t.pk for t in targets)
