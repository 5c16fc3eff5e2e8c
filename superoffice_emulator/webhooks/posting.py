"""One webhook POST, as NetServer sends it: the headers, the signature over the exact bytes, a timeout.

    answer = post(hook, body, event="activity.changed", event_id="…", retry=0)
    answer.status   # 200, or None when no answer came (refused, timed out)

Redirects are not followed: a 3xx is a failure, as any answer but 200. A post ends after its timeout
however the receiver answers: one that trickles its answer a byte at a time fails as one that hangs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from superoffice_emulator import __version__
from superoffice_emulator.domain.webhooks import Webhook

TIMEOUT = 5.0
"""Seconds a receiver has to answer, all of it; then the try failed."""
KEPT_BYTES = 4096
"""How much of a failing answer's body ``LastError`` keeps."""
USER_AGENT = f"NetServer-Webhook/{__version__}"


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

    def as_last_error(self) -> dict[str, Any]:
        """The ``LastError`` of a webhook whose try got this answer."""
        if self.status is None:
            return {"Status": None, "Error": self.error}
        return {"Status": self.status, "Headers": dict(self.headers), "Body": self.body}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Deadline:
    """Shuts a post's sockets once ``seconds`` have passed: a socket's own timeout bounds each wait
    for a byte, not the whole answer."""

    def __init__(self, seconds: float) -> None:
        self.passed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._pass)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def connect(self, *args: Any, **kwargs: Any) -> socket.socket:
        """:func:`socket.create_connection`, the socket watched (before any TLS handshake on it)."""
        sock = socket.create_connection(*args, **kwargs)
        with self._lock:
            self._sockets.append(sock)
            if self.passed:
                _shut(sock)
        return sock

    def _pass(self) -> None:
        with self._lock:
            self.passed = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv waiting on it


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = deadline.connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = deadline.connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, *args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        return _HTTPConnection(*args, deadline=self._deadline, **kwargs)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, *args: Any, **kwargs: Any) -> http.client.HTTPConnection:
        return _HTTPSConnection(*args, deadline=self._deadline, **kwargs)


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


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = TIMEOUT) -> Answer:
    """POST ``body`` to ``url``, for at most ``timeout`` seconds; never raises for what the receiver does."""
    with _Deadline(timeout) as deadline:
        answer = _post(url, body, headers, timeout, deadline)
    if deadline.passed:  # whatever was read by then is not the whole answer
        return Answer(None, error=f"TimeoutError: no complete answer within {timeout:g} s")
    return answer


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, deadline: _Deadline) -> Answer:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    opener = urllib.request.build_opener(_NoRedirects, _HTTPHandler(deadline), _HTTPSHandler(deadline))
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), _text(response.read(KEPT_BYTES)))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, dict(exc.headers.items()), _text(exc.read(KEPT_BYTES)))
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # refused, reset, timed out, cut short at the deadline, a URL urllib cannot use
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Answer(
            None, error=f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
        )


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
