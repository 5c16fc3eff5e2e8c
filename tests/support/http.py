"""Talking to a live server over a real socket: free ports, plain requests, chunked bodies."""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping

from superoffice_emulator.testing import LiveServer
from tests.support.soap import SOAP11_HEADERS


def free_port() -> int:
    """A loopback port nobody listens on: bound, read and closed again (nothing answers there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(
    server: LiveServer, method: str, path: str, body: bytes = b"", /, **headers: str
) -> tuple[int, bytes]:
    """One request to ``server`` on a connection of its own: the status and the body of the answer.
    ``body`` is positional only, so that any header name may be passed as a keyword."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def chunked_post(server: LiveServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no Content-Length) over a real socket."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_call(
    url: str, body: bytes | None = None, *, headers: Mapping[str, str] | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    """``body`` POSTed to ``url`` (SetActivityStatus's SOAP 1.1 headers unless ``headers``), or a GET
    when there is no body: the status and the body of the answer, an HTTP error's too."""
    if headers is None:
        headers = SOAP11_HEADERS if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
