"""`make run`: the whole desk on one machine, stopped together with Ctrl-C.

Starts PostgreSQL and Redis under var/ unless DATABASE_URL / REDIS_URL name others,
migrates, loads the demo data, then runs gunicorn, a Celery worker and Celery beat as
child processes. It prints where to go and how to sign in once /readyz answers. When
any child stops, or on Ctrl-C / SIGTERM, it stops the others and the services it started.

It also listens for the demo's paging webhook (the critical-ticket policy calls it, signed,
right after paging the on-call engineer) and prints each call it receives, as a mail
catcher would: `PAGING_DEMO_WEBHOOK_URL` names another receiver, or empty, none.

Mail goes to a mail catcher (supportdesk/mailcatcher.py: SMTP on --smtp-port, a page
listing what was sent on --mail-port) unless EMAIL_HOST names a real mail server.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from supportdesk import embedded
from supportdesk.mailcatcher import MailCatcher

BASE_DIR = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the launcher itself is killed (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _spawn(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    print(f"starting {name}: {' '.join(command)}", flush=True)
    return subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,  # Ctrl-C reaches the launcher, which stops each child in order
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist yet in this process
    )


def _wait_ready(url: str, children: dict[str, subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class _Stop(Exception):
    pass


class _WebhookLog(BaseHTTPRequestHandler):
    """Prints each webhook it receives and answers 200 with an id."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            summary = json.loads(body)["page"]["title"]
        except (ValueError, KeyError, TypeError):
            summary = body[:120].decode(errors="replace")
        print(
            f"webhook received: POST {self.path} Idempotency-Key "
            f"{self.headers.get('Idempotency-Key')} signature "
            f"{self.headers.get('X-Supportdesk-Signature', 'none')[:20]}...: {summary}",
            flush=True,
        )
        answer = json.dumps({"id": self.headers.get("Idempotency-Key")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def _webhook_catcher(host: str, port: int) -> ThreadingHTTPServer | None:
    """The demo's webhook receiver on host:port, or None when the port is taken."""
    try:
        server = ThreadingHTTPServer((host, port), _WebhookLog)
    except OSError as exc:
        print(f"Not listening for the demo webhook on port {port}: {exc}", flush=True)
        return None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _mail_catcher(
    env: dict[str, str], var_dir: Path, host: str, smtp_port: int, http_port: int
) -> MailCatcher | None:
    """The demo's mail catcher, and the desk's SMTP settings pointed at it; None (mail is
    printed by the console backend) when EMAIL_HOST is set or a port is taken."""
    if "EMAIL_HOST" in os.environ:
        return None
    catcher = MailCatcher(var_dir / "mailcatcher", host, smtp_port, http_port)
    try:
        catcher.start()
    except OSError as exc:
        print(f"No mail catcher (ports {smtp_port}, {http_port}): {exc}", flush=True)
        return None
    env.update(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=host,
        EMAIL_PORT=str(smtp_port),
    )
    return catcher


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportdesk.launcher", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-seed", action="store_true", help="skip the demo data")
    parser.add_argument(
        "--webhook-port", type=int, default=int(os.environ.get("WEBHOOK_PORT", "8025")),
        help="where the demo's paging webhook is received and printed",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-port", type=int, default=int(os.environ.get("MAILCATCHER_SMTP_PORT", "1025")),
        help="the mail catcher's SMTP port: the desk sends its mail there",
    )  # fmt: skip
    parser.add_argument(
        "--mail-port", type=int, default=int(os.environ.get("MAILCATCHER_HTTP_PORT", "8026")),
        help="the mail catcher's page, listing what the desk sent",
    )  # fmt: skip
    args = parser.parse_args(argv)

    var_dir = Path(os.environ.get("SUPPORTDESK_VAR_DIR", str(BASE_DIR / "var")))
    signal.signal(signal.SIGTERM, _raise_stop)
    started = embedded.up(var_dir)
    env = embedded.environment_with(started)
    env.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings.local")
    site = f"http://{args.host}:{args.port}"
    env.setdefault("SITE_URL", site)
    catcher = None
    if "PAGING_DEMO_WEBHOOK_URL" not in os.environ:
        catcher = _webhook_catcher(args.host, args.webhook_port)
        if catcher is not None:
            env["PAGING_DEMO_WEBHOOK_URL"] = f"http://{args.host}:{args.webhook_port}/paging"
    mail = _mail_catcher(env, var_dir, args.host, args.smtp_port, args.mail_port)
    children: dict[str, subprocess.Popen[bytes]] = {}
    bin_dir = Path(sys.executable).parent
    try:
        _manage(env, "migrate", "--no-input")
        if not args.no_seed:
            _manage(env, "seed_demo")
        os.environ.update(env)
        from django.conf import settings  # noqa: PLC0415 - only once the environment is complete

        queues = ",".join(settings.WORKER_QUEUES)
        children["web"] = _spawn(
            "web",
            [str(bin_dir / "gunicorn"), "supportdesk.wsgi", "--bind", f"{args.host}:{args.port}",
             "--workers", "2", "--access-logfile", "-", "--graceful-timeout", "5"],
            env,
        )  # fmt: skip
        children["worker"] = _spawn(
            "worker",
            [str(bin_dir / "celery"), "-A", "supportdesk", "worker", "-Q", queues,
             "--concurrency", "2", "--loglevel", "INFO", "-n", f"desk-{os.getpid()}@%h"],
            env,
        )  # fmt: skip
        children["beat"] = _spawn(
            "beat",
            [str(bin_dir / "celery"), "-A", "supportdesk", "beat", "--loglevel", "INFO",
             "--schedule", str(var_dir / "celerybeat-schedule")],
            env,
        )  # fmt: skip
        if not _wait_ready(f"{site}/readyz", children, timeout=90):
            print("The desk did not become ready; see the output above.", file=sys.stderr)
            return 1
        print(
            f"\nSupport Desk is running.\n"
            f"  Desk       {site}/desk/      (agents)\n"
            f"  Portal     {site}/portal/    (community members)\n"
            f"  API docs   {site}/api/docs/\n"
            f"  API        {site}/api/v1/\n"
            f"  Admin      {site}/admin/\n"
            f"  Health     {site}/healthz  {site}/readyz\n"
            f"  Pages      {site}/desk/pages/  (a critical demo ticket pages the on-call agent;\n"
            f"             emails are printed here, and so are webhooks to "
            f"{env.get('PAGING_DEMO_WEBHOOK_URL') or 'nowhere'})\n"
            f"  Mail       {mail.url if mail else 'printed here (console)'}  (what the desk sent;\n"
            f"             try: python manage.py ingest_email FILE)\n"
            f"Demo sign-in (password: demo-password):\n"
            f"  admin@example.com (administrator), agent1@example.com ... agent4@example.com (tiers 1-4),\n"
            f"  rep@aurora.example (representative), member@aurora.example (member)\n"
            f"Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    print(
                        f"{name} stopped (exit {child.returncode}); stopping the rest.", flush=True
                    )
                    return child.returncode or 1
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        print("\nstopping...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children)
        if catcher is not None:
            catcher.shutdown()
        if mail is not None:
            mail.stop()
        embedded.down(var_dir, postgres=started.started_postgres, redis=started.started_redis)
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
