"""Talking to a live server over a real socket: free ports, plain requests, chunked bodies."""

from __future__ import annotations

import http.client
import socket

from emulator.testing import LiveServer


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
