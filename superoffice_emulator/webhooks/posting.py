"""One webhook POST, as NetServer sends it: the headers, the signature over the exact bytes, a timeout.

    answer = post(hook, body, event="activity.changed", event_id="…", retry=0)
    answer.status   # 200, or None when no answer came (refused, timed out)

Redirects are not followed: a 3xx is a failure, as any answer but 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from superoffice_emulator import __version__
from superoffice_emulator.domain.webhooks import Webhook

TIMEOUT = 5.0
"""Seconds a receiver has to answer (connect and read each); then the try failed."""
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


_OPENER = urllib.request.build_opener(_NoRedirects)


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
    """POST ``body`` to ``url``; never raises for what the receiver does."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), _text(response.read(KEPT_BYTES)))
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, dict(exc.headers.items()), _text(exc.read(KEPT_BYTES)))
    except (OSError, ValueError) as exc:  # refused, reset, timed out, a URL urllib cannot use
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Answer(
            None, error=f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
        )


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
