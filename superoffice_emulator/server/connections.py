"""The worker process's own TCP connections, found among its file descriptors.

RSGI hands the app a request, never its connection, so two things the server must do to a
connection are done here, through the socket the process already holds:

- :func:`shut_down_connection` ends the connection of one request (the ``drop`` fault: the client
  sees it break off, never a made-up answer);
- :class:`SilentConnections` shuts down the connections that have not sent a request within the
  request timeout. granian closes an idle keep-alive connection and headers that stop arriving
  after that time, but it keeps a connection that never sends a byte, in one of the worker's
  connection slots (``backpressure``): enough of them would stop the worker taking new clients.

Both read ``/proc/self/fd`` (Linux; ``/dev/fd`` elsewhere). Where the process cannot list its
descriptors they find nothing: the drop fault then cuts the answer short instead, and silent
connections stay until their client goes away.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger("emulator")


@dataclass(frozen=True)
class Connection:
    """A TCP socket of this process: its descriptor, its own address and its peer's (``host:port``)."""

    descriptor: int
    local: str
    peer: str

    def shut_down(self) -> bool:
        """Shut the connection down (both ways) if the descriptor is still this connection."""
        with _socket_of(self.descriptor) as sock:
            if sock is None or _addresses(sock) != (self.local, self.peer):
                return False
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                return True
        return False


def address_text(address: str) -> str:
    """``host:port`` in one spelling: an IPv6 host unbracketed, an IPv4-mapped one as IPv4 (a
    dual-stack socket names its IPv4 peers ``::ffff:a.b.c.d``, which a server may shorten)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if host.lower().startswith("::ffff:"):
        with contextlib.suppress(ValueError):
            mapped = ipaddress.IPv6Address(host).ipv4_mapped
            host = str(mapped) if mapped is not None else host
    return f"{host}:{port}"


def tcp_sockets() -> tuple[list[Connection], set[int]]:
    """This process's connected TCP sockets, and the ports its listening TCP sockets are bound to."""
    connections: list[Connection] = []
    listening: set[int] = set()
    for descriptor in _descriptors():
        with _socket_of(descriptor) as sock:
            if sock is None:
                continue
            if _is_listening(sock):
                with contextlib.suppress(OSError):
                    listening.add(int(sock.getsockname()[1]))
                continue
            addresses = _addresses(sock)
            if addresses is not None:
                connections.append(Connection(descriptor, *addresses))
    return connections, listening


def shut_down_connection(server: str, client: str) -> bool:
    """Shut down this process's TCP connection from ``server`` to ``client`` (``host:port`` each).

    False when no descriptor of the process is that connection (or the system lists none).
    """
    wanted = (address_text(server), address_text(client))
    for connection in tcp_sockets()[0]:
        if (connection.local, connection.peer) == wanted:
            return connection.shut_down()
    return False


class SilentConnections:
    """Shuts down the accepted connections that have sent no request within ``timeout`` seconds.

    The server tells it of every request's client (:meth:`spoke`) and calls :meth:`sweep` every
    :attr:`interval` seconds. A connection is first seen by a sweep; one that has not brought a
    request ``timeout`` seconds later is shut down, so a silent client loses its connection between
    ``timeout`` and ``timeout + 2 * interval`` seconds after it connected. One that has brought a
    request is left to the server, which closes it when it stays idle. Connections this process
    opened itself (to PostgreSQL) are never touched: only those on a port it listens on.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.interval = min(5.0, max(0.25, timeout / 4))
        self._spoke: set[str] = set()  # clients of requests since the last sweep, as granian wrote them
        self._first_seen: dict[tuple[str, str], float | None] = {}  # None: it has brought a request

    def spoke(self, client: str) -> None:
        """A request from ``client`` (``host:port``) reached the app."""
        self._spoke.add(client)

    def sweep(self, now: float) -> int:
        """Shut down the connections silent for longer than the timeout; how many were."""
        spoke = {address_text(client) for client in self._spoke}
        self._spoke.clear()
        connections, listening = tcp_sockets()
        seen: dict[tuple[str, str], float | None] = {}
        closed = 0
        for connection in connections:
            if int(connection.local.rpartition(":")[2]) not in listening:
                continue  # not accepted here: a connection this process opened
            key = (connection.local, connection.peer)
            first = None if connection.peer in spoke else self._first_seen.get(key, now)
            if first is not None and now - first >= self.timeout and connection.shut_down():
                closed += 1
                log.info("closed the connection of %s: no request in %g s", connection.peer, self.timeout)
                continue
            seen[key] = first
        self._first_seen = seen  # connections that have gone are forgotten
        return closed


def _descriptors() -> list[int]:
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return [int(name) for name in os.listdir(folder) if name.isdigit()]
    return []


@contextlib.contextmanager
def _socket_of(descriptor: int) -> Iterator[socket.socket | None]:
    """A TCP socket object on ``descriptor`` itself (detached after, never closed), or ``None``.

    No descriptor is ever duplicated and closed: closing any descriptor of a file releases every
    POSIX lock this process holds on that file, SQLite's among them, which would let another
    process write to the database, or checkpoint and reset its WAL, under this one's feet.
    """
    try:
        sock = socket.socket(fileno=descriptor)
    except OSError:  # not a socket (a file, a pipe), or closed meanwhile: left as it is
        yield None
        return
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            yield None
        else:
            yield sock
    finally:
        sock.detach()


def _is_listening(sock: socket.socket) -> bool:
    accepting = getattr(socket, "SO_ACCEPTCONN", None)
    if accepting is None:
        return False
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, accepting))
    except OSError:
        return False


def _addresses(sock: socket.socket) -> tuple[str, str] | None:
    try:
        local, peer = sock.getsockname(), sock.getpeername()
    except OSError:
        return None
    return address_text(f"{local[0]}:{local[1]}"), address_text(f"{peer[0]}:{peer[1]}")
