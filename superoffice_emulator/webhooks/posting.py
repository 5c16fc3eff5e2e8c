"""One webhook POST, as NetServer sends it: the headers, the signature over the exact bytes, a timeout.

    answer = post(hook, body, event="activity.changed", event_id="…", retry=0)
    answer.status   # 200, or None when no answer came (refused, timed out)

Redirects are not followed: a 3xx is a failure, as any answer but 200. A post ends after its timeout
however the receiver answers: one that trickles its answer a byte at a time fails as one that hangs.
The deliverer's threads keep their connections to receivers open between posts (:class:`Connections`);
proxies are not used, as NetServer posts to its receivers directly.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import hmac
import http.client
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from superoffice_emulator import __version__
from superoffice_emulator.domain.webhooks import Webhook

TIMEOUT = 5.0
"""Seconds a receiver has to answer, all of it; then the try failed."""
KEPT_BYTES = 4096
"""How much of a failing answer's body ``LastError`` keeps."""
SLACK = 0.05
"""Seconds a post may outlast its timeout: the deadlines that pass within them are watched together
(a busy outbox's posts then wake the watching thread a few times a second, not once each)."""
_LINE_BREAK = re.compile(r"[\r\n]")
"""What would end a header early and start another: a custom header may never hold it."""
USER_AGENT = f"NetServer-Webhook/{__version__}"
KEPT_CONNECTIONS = 16
"""Receivers' connections one thread keeps open."""


def signature(secret: str, body: bytes) -> str:
    """``X-SuperOffice-Signature``: base64 of HMAC-SHA256 with the UTF-8 secret over the raw body."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True)
class Answer:
    """What the receiver answered; ``status`` ``None`` when it did not (``error`` says why)."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None
    stale: bool = field(default=False, compare=False)
    """No answer because the receiver had closed a kept connection: worth one more try at once."""

    def as_last_error(self) -> dict[str, Any]:
        """The ``LastError`` of a webhook whose try got this answer."""
        if self.status is None:
            return {"Status": None, "Error": self.error}
        return {"Status": self.status, "Headers": dict(self.headers), "Body": self.body}


class _Watch:
    """One thread that shuts the sockets of posts whose deadline passed (a socket's own timeout bounds
    each wait for a byte, not the whole answer); a post registers its socket for its time."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._count = 0
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self._lock:
            self._count += 1
            heapq.heappush(self._heap, (deadline.at, self._count, deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:  # the watch now ends sooner than it waits for
                self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while not self._heap or self._heap[0][0] > now:
                    self._lock.wait(None if not self._heap else self._heap[0][0] - now + SLACK)
                    now = time.monotonic()
                passed = []
                while self._heap and self._heap[0][0] <= now:
                    passed.append(heapq.heappop(self._heap)[2])
            for deadline in passed:
                deadline.pass_()


_WATCH = _Watch()


class _Deadline:
    """The end of one post's time: its socket is shut then, unless the post ended first."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = False
        self.ended = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Deadline:
        _WATCH.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.ended = True
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.ended:
                return
            self._sockets.append(sock)
            if self.passed:
                _shut(sock)

    def pass_(self) -> None:
        with self._lock:
            if self.ended:
                return
            self.passed = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv waiting on it


class Connections:
    """Kept-alive connections to receivers, for the posts of one thread (a receiver that answers
    HTTP/1.1 keeps its connection, as a browser's would be kept)."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def take(
        self, scheme: str, host: str, port: int, timeout: float
    ) -> tuple[http.client.HTTPConnection, bool]:
        """A connection to the receiver (one kept from before: True), to give back or drop after."""
        kept = self._open.pop((scheme, host, port), None)
        if kept is not None:
            kept.timeout = timeout
            if kept.sock is not None:
                kept.sock.settimeout(timeout)
            return kept, True
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        return kind(host, port, timeout=timeout), False

    def give_back(self, scheme: str, host: str, port: int, connection: http.client.HTTPConnection) -> None:
        old = self._open.pop((scheme, host, port), None)
        if old is not None:
            old.close()
        if len(self._open) >= KEPT_CONNECTIONS:  # the one used longest ago goes
            self._open.pop(next(iter(self._open))).close()
        self._open[scheme, host, port] = connection

    def close(self) -> None:
        for connection in list(self._open.values()):
            connection.close()
        self._open.clear()


def headers_of(hook: Webhook, body: bytes, *, event: str, event_id: str, retry: int) -> dict[str, str]:
    """The POST's headers: the webhook's own first, NetServer's over them."""
    headers = {str(k): str(v) for k, v in hook.headers.items()}
    headers |= {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-SuperOffice-Event": event,
        "X-SuperOffice-EventId": event_id,
        "X-SuperOffice-Retry": str(retry),
    }
    if hook.secret:
        headers["X-SuperOffice-Signature"] = signature(hook.secret, body)
    return headers


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float = TIMEOUT,
    connections: Connections | None = None,
) -> Answer:
    """POST ``body`` to ``url``, for at most ``timeout`` seconds; never raises for what the receiver does.

    With ``connections``, a connection kept from an earlier post to the same receiver is used (and
    the post made again on a new one if the receiver had closed it meanwhile), and this one is kept.
    """
    try:
        target = urlsplit(url)
        scheme, host, port = target.scheme, target.hostname or "", target.port
    except ValueError as exc:
        return Answer(None, error=f"ValueError: {exc}")
    if scheme not in ("http", "https") or not host:
        return Answer(None, error=f"ValueError: {url!r} is not an http or https URL")
    port = port or (443 if scheme == "https" else 80)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    if any(_LINE_BREAK.search(part) for item in headers.items() for part in item):
        # refused before connecting: http.client refuses it too, but in request(), after _post connected
        return Answer(None, error="ValueError: a header's name or value holds a line break")
    pool = connections or Connections()
    try:
        for _ in range(2):
            connection, kept = pool.take(scheme, host, port, timeout)
            with _Deadline(timeout) as deadline:
                answer, reusable = _post(connection, path, body, headers, deadline)
            if deadline.passed:  # whatever was read by then is not the whole answer
                connection.close()
                return Answer(None, error=f"TimeoutError: no complete answer within {timeout:g} s")
            if reusable:
                pool.give_back(scheme, host, port, connection)
            else:
                connection.close()
            if not (kept and answer.status is None and answer.stale):
                return answer
        return answer
    finally:
        if connections is None:
            pool.close()


def _post(
    connection: http.client.HTTPConnection,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    deadline: _Deadline,
) -> tuple[Answer, bool]:
    """One request on ``connection``: the answer, and whether the connection may be used again."""
    try:
        if connection.sock is None:
            _connect(connection)
        deadline.watch(connection.sock)
        connection.request("POST", path, body=body, headers=dict(headers))
        with connection.getresponse() as response:
            data = _text(response.read(KEPT_BYTES))
            reusable = response.isclosed() and not response.will_close
            return Answer(response.status, dict(response.headers.items()), data), reusable
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # refused, reset, timed out, cut short at the deadline, a host that does not resolve
        stale = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Answer(None, error=error, stale=stale), False


def _connect(connection: http.client.HTTPConnection) -> None:
    connection.connect()
    with contextlib.suppress(OSError):  # http.client sends the headers and the body apart
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
