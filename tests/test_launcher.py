"""`make run` on a machine with nothing running: the whole desk comes up, Ctrl-C stops it all."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.processes import BASE_DIR, free_port, wait_until

pytestmark = pytest.mark.stack


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None, b""


def _gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_launcher_brings_up_the_desk_and_ctrl_c_stops_everything_it_started():
    var_dir = Path(tempfile.mkdtemp(prefix="launcher-"))
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        SUPPORTDESK_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="supportdesk.settings.local"
    )
    log = (var_dir / "launcher.log").open("wb")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "supportdesk.launcher", "--port", str(port)],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    site = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: "Support Desk is running" in (var_dir / "launcher.log").read_text(),
            timeout=180,
            what=lambda: (var_dir / "launcher.log").read_text()[-3000:],
        )
        status, body = _get(f"{site}/readyz")
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        assert _get(f"{site}/api/docs/")[0] == 200
        assert (
            _get(f"{site}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")[0] == 200
        )
        children = psutil.Process(launcher.pid).children(recursive=True)
        assert len(children) >= 3  # gunicorn, worker, beat (and their own children)
        postgres_pid = int((var_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
        redis_pid = int((var_dir / "redis" / "redis.pid").read_text())
    finally:
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(timeout=60)
        log.close()

    output = (var_dir / "launcher.log").read_text()
    shutil.rmtree(var_dir, ignore_errors=True)
    assert code == 0, output[-3000:]
    assert "stopped." in output
    assert [child.pid for child in children if not _gone(child.pid)] == []
    assert _gone(postgres_pid)
    assert _gone(redis_pid)
    assert _get(f"{site}/healthz")[0] is None
