"""One HTTP/1.1 POST and its answer on an open connection: the little of HTTP a webhook's post needs.

    sock.sendall(request(host, port, 80, "/hook", body, headers))
    status, headers, data, reusable = answer(sock.makefile("rb"), 4096)

:mod:`http.client` sends a request's headers a call each and parses every answer's headers with the
:mod:`email` package: for a busy outbox that was most of a post's CPU, taken on threads that share
the interpreter with the calls. Here a request is one write, and an answer is read line by line:
its status line, its headers, then its body by ``Content-Length``, by chunks, or up to the close.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import BinaryIO

MAX_LINE = 65536
"""Bytes a status line, a header line or a chunk's size line may have."""
MAX_HEADERS = 100
"""Header lines an answer may have."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_UNSENDABLE = re.compile(r"[\x00-\x1f\x7f]")
_END = (b"\r\n", b"\n", b"")


class Closed(ConnectionError):
    """The receiver closed the connection before its answer's status line."""


class Malformed(ValueError):
    """What came back is not an HTTP/1.x answer."""


def request(
    host: str, port: int, default_port: int, path: str, body: bytes, headers: Mapping[str, str]
) -> bytes:
    """The bytes of a ``POST`` of ``body`` to ``path``: its line, ``Host`` (unless ``headers`` has
    one), ``headers``, ``Content-Length``; a ``ValueError`` for a header or path that HTTP cannot carry."""
    if not path.isascii() or _UNSENDABLE.search(path) or " " in path:
        raise ValueError(f"the path {path!r} cannot be sent")
    names = {name.lower() for name in headers}
    lines = [f"POST {path} HTTP/1.1"]
    if "host" not in names:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f"Host: {shown}" if port == default_port else f"Host: {shown}:{port}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")  # an error's body is kept as text
    for name, value in headers.items():
        if not _TOKEN.match(name) or _UNSENDABLE.search(value.replace("\t", " ")):
            raise ValueError(f"the header {name!r} cannot be sent")
        lines.append(f"{name}: {value}")
    if "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1") + body


def answer(reader: BinaryIO, keep: int) -> tuple[int, dict[str, str], bytes, bool]:
    """Read one answer: its status, its headers, the first ``keep`` bytes of its body, and whether the
    connection may carry another request (the whole body was read and neither side closes)."""
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise Closed("the receiver closed the connection without an answer")
        version, status = _status_line(line)
        headers = _headers(reader)
        if not 100 <= status < 200 or status == 101:  # past an interim answer (100 Continue)
            break
    named = {name.lower(): value for name, value in headers.items()}
    connection = named.get("connection", "").lower()
    closes = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", not closes
    if "chunked" in named.get("transfer-encoding", "").lower():
        data, whole = _chunks(reader, keep)
        return status, headers, data, whole and not closes
    length = named.get("content-length")
    if length is None:  # the body runs until the receiver closes
        return status, headers, reader.read(keep), False
    if not length.strip().isdigit():
        raise Malformed(f"Content-Length {length!r}")
    size = int(length)
    data = reader.read(min(size, keep))
    return status, headers, data, size <= keep and len(data) == size and not closes


def _status_line(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").split(None, 2)
    if (
        len(line) > MAX_LINE
        or len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or len(parts[1]) != 3
        or not parts[1].isdigit()
    ):
        raise Malformed(f"not an HTTP answer: {line[:80]!r}")
    return parts[0], int(parts[1])


def _headers(reader: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for _ in range(MAX_HEADERS + 1):
        line = reader.readline(MAX_LINE + 1)
        if line in _END:
            return headers
        if len(line) > MAX_LINE:
            raise Malformed("a header line too long")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last:  # a folded line goes on the header before
            headers[last] = f"{headers[last]} {text.strip()}"
            continue
        name, colon, value = text.partition(":")
        if colon and name.strip():
            last = name.strip()
            headers[last] = value.strip()
    raise Malformed(f"more than {MAX_HEADERS} headers")


def _chunks(reader: BinaryIO, keep: int) -> tuple[bytes, bool]:
    """The first ``keep`` bytes of a chunked body, and whether the whole of it was read."""
    data = bytearray()
    while True:
        line = reader.readline(MAX_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        if not line or len(line) > MAX_LINE or not size_text:
            return bytes(data), False
        size = int(size_text, 16)
        if size == 0:
            for _ in range(MAX_HEADERS + 1):  # the trailer, up to its blank line
                if reader.readline(MAX_LINE + 1) in _END:
                    return bytes(data), True
            return bytes(data), False
        if len(data) + size > keep:
            data += reader.read(keep - len(data))
            return bytes(data), False
        chunk = reader.read(size)
        data += chunk
        if len(chunk) < size or reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            return bytes(data), False
