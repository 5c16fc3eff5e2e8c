"""A live emulator on a free port, in a background thread: for tests that need a real socket; and a
webhook receiver, a real HTTP server that records what the emulator posts to it.

With ``Settings(tls=True)`` it serves HTTPS with the certificate of
:mod:`superoffice_emulator.server.certificates` (the authority beside the database, or in ``tls_dir``).

from superoffice_emulator.testing import LiveServer, WebhookReceiver

with LiveServer(Settings(database_url="sqlite:///tmp/t.db")) as server:
    url = server.url("/Remote/Services86/Appointment.svc")

with WebhookReceiver() as receiver:
    ...  # register receiver.url as a webhook's TargetUrl, change something
    [posted] = receiver.wait_for(1)
    posted.event, posted.json["PrimaryKey"], posted.signed_with("my-secret")
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.clock import Clock, utcnow
from superoffice_emulator.settings import Settings


class LiveServer:
    """Serves ``create_app(settings)`` on ``host`` and a free port until :meth:`stop`."""

    def __init__(
        self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0, clock: Clock = utcnow
    ) -> None:
        self.scheme = "https" if settings.tls else "http"
        context = None
        if settings.tls:
            from superoffice_emulator.server.certificates import prepare

            context = prepare(settings, host).context()
        self.app: EmulatorApp = create_app(settings, clock=clock)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, ssl_context=context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` on this server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.runtime.database.dispose()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Posted:
    """One POST a :class:`WebhookReceiver` got: its headers (names in lower case) and raw body."""

    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        """``X-SuperOffice-Event``: ``activity.changed``, ``sale.completed``, ``test``..."""
        return self.headers.get("x-superoffice-event", "")

    @property
    def event_id(self) -> str:
        """``X-SuperOffice-EventId``: the same on every try of one event."""
        return self.headers.get("x-superoffice-eventid", "")

    @property
    def retry(self) -> int:
        """``X-SuperOffice-Retry``: 0 on the first try."""
        return int(self.headers.get("x-superoffice-retry", "0"))

    @property
    def test(self) -> bool:
        """Whether this is the test post of a webhook's save (``X-Hook-Test: true``)."""
        return self.headers.get("x-hook-test") == "true"

    def signed_with(self, secret: str) -> bool:
        """Whether ``X-SuperOffice-Signature`` is base64(HMAC-SHA256(secret, the raw body)), checked
        as SuperOffice's docs show a receiver checking it."""
        digest = hmac.new(secret.encode("utf-8"), self.body, hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode("ascii")
        return hmac.compare_digest(expected, self.headers.get("x-superoffice-signature", ""))


class WebhookReceiver:
    """An HTTP server on ``host`` and a free port that records every POST and answers it with
    ``answer(posted)`` (200 unless changed): a webhook's target for tests.

    ``hold()`` makes it keep the next posts waiting, unanswered, until ``release()`` (a receiver
    that hangs); ``close()`` releases them and stops it.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.answer: Callable[[Posted], int] = lambda posted: 200
        self._posts: list[Posted] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._released = threading.Event()
        self._released.set()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # a connection is kept for the next post, as by most servers
            wbufsize = -1  # the answer in one write: headers and body apart would meet Nagle's delay

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posted = Posted({key.lower(): value for key, value in self.headers.items()}, body)
                released = receiver._released
                with receiver._arrived:
                    receiver._posts.append(posted)
                    receiver._arrived.notify_all()
                released.wait()
                status = receiver.answer(posted)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @property
    def url(self) -> str:
        """The URL to register as a webhook's ``TargetUrl``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    @property
    def posts(self) -> list[Posted]:
        """Every POST so far, the test posts of saves too, in the order they arrived."""
        with self._lock:
            return list(self._posts)

    def events(self) -> list[Posted]:
        """The posts of events (not the test posts), in the order they arrived."""
        return [posted for posted in self.posts if not posted.test]

    def wait_for(self, count: int, within: float = 30) -> list[Posted]:
        """The events, once at least ``count`` arrived; ``AssertionError`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        with self._arrived:
            while True:
                events = [posted for posted in self._posts if not posted.test]
                left = deadline - time.monotonic()
                if len(events) >= count or left <= 0:
                    break
                self._arrived.wait(left)
        if len(events) < count:
            raise AssertionError(f"{len(events)} webhook events arrived within {within:g} s, not {count}")
        return events

    def clear(self) -> None:
        """Forget the posts so far."""
        with self._lock:
            self._posts.clear()

    def hold(self) -> None:
        """Keep the posts that arrive from now on waiting, unanswered, until :meth:`release`."""
        self._released = threading.Event()

    def release(self) -> None:
        """Answer the posts kept waiting."""
        self._released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            kept = list(self._connections)
        for connection in kept:  # a kept connection's thread waits for the next post: end it
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
