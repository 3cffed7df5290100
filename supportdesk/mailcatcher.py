"""The demo's mail catcher: an SMTP server that keeps what the desk sends, and a small page
listing it. `make run` starts it (supportdesk/launcher.py) and points the desk's SMTP
settings at it, so demo mail is visible without a real mail server.

Each message is kept as a file under the catcher's directory (var/mailcatcher/), newest
last, so the page survives a restart and anyone can open the raw `.eml`. Run alone:
`python -m supportdesk.mailcatcher --smtp-port 1025 --http-port 8026`.
"""

from __future__ import annotations

import argparse
import email
import html
import threading
import time
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

KEEP = 500  # the newest messages kept on disk


class _Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def add(self, raw: bytes) -> Path:
        with self.lock:
            path = self.directory / f"{time.time_ns()}.eml"
            path.write_bytes(raw)
            for old in sorted(self.directory.glob("*.eml"))[:-KEEP]:
                old.unlink(missing_ok=True)
            return path

    def names(self) -> list[str]:
        return sorted((p.name for p in self.directory.glob("*.eml")), reverse=True)

    def read(self, name: str) -> bytes | None:
        if "/" in name or not name.endswith(".eml"):
            return None
        path = self.directory / name
        return path.read_bytes() if path.is_file() else None


class _SMTPHandler:
    def __init__(self, store: _Store) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        path = self.store.add(bytes(envelope.content))
        print(f"mail caught: {', '.join(envelope.rcpt_tos)} ({path.name})", flush=True)  # noqa: T201
        return "250 OK"


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 - the modern policy's class
    return message


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain", "html"))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):
        return "(this part could not be decoded)"


_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
    "padding:.35rem .5rem;text-align:left;vertical-align:top}pre{white-space:pre-wrap;"
    "background:#f6f6f6;padding:1rem}dt{font-weight:600}"
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style><body>{body}</body></html>"
    ).encode()


def _handler_for(store: _Store) -> type[BaseHTTPRequestHandler]:
    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the base's name
            if self.path in ("/", ""):
                self._send(200, self._list())
            elif self.path.startswith("/m/"):
                raw = store.read(self.path[3:])
                if raw is None:
                    self._send(404, _page("Not found", "<p>No such message.</p>"))
                else:
                    self._send(200, self._message(self.path[3:], raw))
            elif self.path.startswith("/raw/"):
                raw = store.read(self.path[5:])
                if raw is None:
                    self._send(404, _page("Not found", "<p>No such message.</p>"))
                else:
                    self._send(200, raw, "text/plain; charset=utf-8")
            else:
                self._send(404, _page("Not found", "<p>Nothing here.</p>"))

        def _list(self) -> bytes:
            rows = []
            for name in store.names():
                raw = store.read(name) or b""
                message = _parse(raw)
                rows.append(
                    "<tr><td>{date}</td><td>{to}</td><td><a href='/m/{name}'>{subject}</a></td>"
                    "<td>{auto}</td></tr>".format(
                        date=html.escape(str(message.get("Date", ""))),
                        to=html.escape(str(message.get("To", ""))),
                        name=html.escape(name),
                        subject=html.escape(str(message.get("Subject", "(no subject)"))),
                        auto=html.escape(str(message.get("Auto-Submitted", ""))),
                    )
                )
            table = (
                "<table><thead><tr><th>Date</th><th>To</th><th>Subject</th>"
                "<th>Auto-Submitted</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
                if rows
                else "<p>No mail yet.</p>"
            )
            return _page(
                "Mail sent by the desk",
                f"<h1>Mail sent by the desk</h1><p>{len(rows)} message(s), newest first."
                f" Kept in <code>{html.escape(str(store.directory))}</code>.</p>{table}",
            )

        def _message(self, name: str, raw: bytes) -> bytes:
            message = _parse(raw)
            headers = "".join(
                f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>"
                for key, value in message.items()
                if key.lower() not in ("content-type", "content-transfer-encoding", "mime-version")
            )
            subject = str(message.get("Subject", "(no subject)"))
            return _page(
                subject,
                f"<p><a href='/'>All mail</a> · <a href='/raw/{html.escape(name)}'>Raw</a></p>"
                f"<h1>{html.escape(subject)}</h1><dl>{headers}</dl>"
                f"<pre>{html.escape(_text_of(message))}</pre>",
            )

        def _send(self, status: int, body: bytes, content_type: str = "text/html") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

    return Pages


class MailCatcher:
    """SMTP on smtp_port, the page on http_port; `start()` and `stop()`."""

    def __init__(self, directory: Path, host: str, smtp_port: int, http_port: int) -> None:
        self.store = _Store(directory)
        self.host, self.smtp_port, self.http_port = host, smtp_port, http_port
        self.controller = Controller(_SMTPHandler(self.store), hostname=host, port=smtp_port)
        self.http: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.http = ThreadingHTTPServer((self.host, self.http_port), _handler_for(self.store))
        self.controller.start()
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.controller.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportdesk.mailcatcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8026)
    parser.add_argument("--dir", default="var/mailcatcher")
    args = parser.parse_args(argv)
    catcher = MailCatcher(Path(args.dir), args.host, args.smtp_port, args.http_port)
    catcher.start()
    print(f"SMTP on {args.host}:{args.smtp_port}; mail at {catcher.url}", flush=True)  # noqa: T201
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
