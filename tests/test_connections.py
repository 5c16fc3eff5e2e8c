"""The sweep of silent connections (``superoffice_emulator.server.connections``) on real sockets, in a
process of its own.

The sweep shuts down accepted connections of the whole process, so it runs in a fresh Python
process (one that holds no connection of the test session). That process holds a listener and
three connections to it: one silent, one whose client has brought a request, and the client ends,
which this process opened itself. It sweeps with given clock values and reports what happened;
the end-to-end behaviour against the server is in ``test_stalled_clients``. Addresses are compared
in one spelling, whichever way the server or the socket writes them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from superoffice_emulator.server.connections import address_text

SWEEPS = """
import json, socket
from superoffice_emulator.server.connections import SilentConnections

listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]

def pair():
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    return client, accepted

silent_client, silent_accepted = pair()
talking_client, talking_accepted = pair()
sweep = SilentConnections(timeout=10.0)
host, client_port = talking_client.getsockname()
sweep.spoke(f"{host}:{client_port}")  # as granian writes a request's client
report = {"at 0": sweep.sweep(0.0), "at 9.9": sweep.sweep(9.9)}
silent_client.settimeout(0.2)
try:
    report["silent open before the timeout"] = silent_client.recv(1) != b""
except socket.timeout:
    report["silent open before the timeout"] = True
report["at 10"] = sweep.sweep(10.0)
silent_client.settimeout(5)
report["silent closed at the timeout"] = silent_client.recv(1) == b""
talking_client.sendall(b"hi")
talking_accepted.settimeout(5)
report["talking still reads"] = talking_accepted.recv(2) == b"hi"
talking_accepted.sendall(b"ok")
talking_client.settimeout(5)
report["talking still answers"] = talking_client.recv(2) == b"ok"
try:
    silent_client.sendall(b"x")  # the client end: never shut down (it is not on a listening port)
    report["client end may still send"] = True
except OSError:
    report["client end may still send"] = False
report["at 30"] = sweep.sweep(30.0)  # the talking connection is still left alone later
print(json.dumps(report))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sweep reads /proc/self/fd")
def test_only_a_silent_accepted_connection_is_shut_down_and_only_after_the_timeout() -> None:
    done = subprocess.run([sys.executable, "-c", SWEEPS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {
        "at 0": 0,
        "at 9.9": 0,
        "silent open before the timeout": True,
        "at 10": 1,
        "silent closed at the timeout": True,
        "talking still reads": True,
        "talking still answers": True,
        "client end may still send": True,
        "at 30": 0,
    }


@pytest.mark.parametrize(
    ("written", "compared"),
    [
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:8080", "::1:8080"),
        ("::1:8080", "::1:8080"),
        ("::ffff:127.0.0.1:40774", "127.0.0.1:40774"),  # a dual-stack socket's IPv4 peer
        ("[::ffff:10.0.0.7]:9", "10.0.0.7:9"),
    ],
)
def test_one_address_has_one_spelling(written: str, compared: str) -> None:
    assert address_text(written) == compared
