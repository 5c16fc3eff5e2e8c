"""Servers in processes of their own: the CLI's ``serve`` (or ``emulator.serving.serve`` with worker
processes) in a subprocess, waited for until its port answers, SIGKILLed with its workers at the end."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

SERVE_WITH_WORKERS = """
import sys
from pathlib import Path
from emulator.serving import serve
from emulator.settings import Settings
database_url, port, workers, fixtures = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
settings = Settings(database_url=database_url, **({"fixtures": Path(fixtures[0])} if fixtures else {}))
serve(settings, "127.0.0.1", port, workers=workers, log_level="warning")
"""


@contextlib.contextmanager
def server_process(
    database: Path,
    port: int,
    *,
    log: Path,
    fixtures: Path | None = None,
    workers: int | None = None,
    ready_within: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group, answering on ``port``; SIGKILLed (the whole group) at the end.

    ``workers`` None: ``python -m emulator serve`` (the CLI); a number: ``emulator.serving.serve``
    with that many worker processes.
    """
    url = f"sqlite:///{database}"
    if workers is None:
        command = [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--database-url", url, "--log-level", "warning"]
        command += ["--fixtures", str(fixtures)] if fixtures else []
    else:
        command = [sys.executable, "-c", SERVE_WITH_WORKERS, url, str(port), str(workers)]
        command += [str(fixtures)] if fixtures else []
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_up(process, port, ready_within, log)
        yield process
    finally:
        kill_hard(process)


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every worker it started (its process group, which this test created)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_until_up(process: subprocess.Popen[bytes], port: int, within: float, log: Path) -> None:
    """Return once ``GET /`` on ``port`` answers 200; fail the test, with the end of ``log``, if the
    process exits first or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {log.read_text()[-2000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()  # on every path: a timed-out call must not leak its socket
        time.sleep(0.05)
    pytest.fail(f"the server did not answer within {within} s: {log.read_text()[-2000:]}")
