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
