"""Servers in processes of their own.

- ``server_process``: the CLI's ``serve`` (or ``superoffice_emulator.server.serving.serve`` with
  worker processes) on a port the test chose, waited for until it answers, SIGKILLed with its
  workers at the end;
- ``ServerProcess``: any ``superoffice-emulator`` command line, its port read from the start-up
  log line, stopped with SIGTERM (``fetch`` and ``wait_for`` read from it);
- ``running``: ``superoffice_emulator.server.serving.serve`` on port 0 with worker processes
  (``Server``), SIGTERMed at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SERVER_START_TIMEOUT = 60.0  # seconds; generous, for a loaded CI machine

SERVE_WITH_WORKERS = """
import os
import sys
from pathlib import Path
from superoffice_emulator.server.serving import serve
from superoffice_emulator.settings import Settings, from_env
database_url, port, workers, fixtures = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
settings = from_env(Settings, os.environ).replace(
    database_url=database_url, **({"fixtures": Path(fixtures[0])} if fixtures else {})
)
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
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process group, answering on ``port``; SIGKILLed (the whole group) at the end.

    ``workers`` None: ``python -m superoffice_emulator serve`` (the CLI); a number:
    ``superoffice_emulator.server.serving.serve`` with that many worker processes. ``env``: settings
    as ``EMULATOR_*`` variables, over this process's environment.
    """
    url = f"sqlite:///{database}"
    if workers is None:
        command = [
            sys.executable,
            "-m",
            "superoffice_emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        command += ["--database-url", url, "--log-level", "warning"]
        command += ["--fixtures", str(fixtures)] if fixtures else []
    else:
        command = [sys.executable, "-c", SERVE_WITH_WORKERS, url, str(port), str(workers)]
        command += [str(fixtures)] if fixtures else []
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
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


class ServerProcess:
    """A ``superoffice-emulator`` process; the port is read from its start-up log line."""

    LISTENING = re.compile(r"listening on https?://(?P<host>[^:/]+):(?P<port>\d+)/")

    def __init__(self, command: Sequence[str], env: Mapping[str, str], timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self._wait_for_port(timeout)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put("")

    def _wait_for_port(self, timeout: float) -> int:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no start-up line within {timeout}s: {self.output}") from None
            self.output.append(line)
            if not line:
                self.stop()
                raise AssertionError(f"the server exited: {''.join(self.output)}")
            match = self.LISTENING.search(line)
            if match:
                return int(match["port"])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        """SIGTERM (what ``docker stop`` sends), then the exit status; the rest of the log is kept."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        while True:
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if not line:
                break
            self.output.append(line)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return status


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get_content_type(), response.read()


def wait_for(url: str, within: float = 60) -> tuple[int, str, bytes]:
    """``fetch(url)``, again until the server accepts connections (at most ``within`` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return fetch(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Server:
    """``serve(settings, '127.0.0.1', 0, workers)`` in a subprocess of its own process group."""

    def __init__(self, db_path: Path, workers: int, log_path: Path, before: str = "") -> None:
        """``before``: Python code that the subprocess runs first (the workers are forked from it)."""
        self.port = 0  # known once the log line names the port that serve() picked
        self.log_path = log_path
        code = before + (
            "import sys\n"
            "from superoffice_emulator.server.serving import serve\n"
            "from superoffice_emulator.settings import Settings\n"
            "serve(Settings(database_url=sys.argv[1]), '127.0.0.1', 0, int(sys.argv[2]))\n"
        )
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, f"sqlite:///{db_path}", str(workers)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            if not self.port:
                listening = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.log())
                self.port = int(listening.group(1)) if listening else 0
            try:
                if self.port:
                    with urllib.request.urlopen(self.url("/"), timeout=5) as answer:
                        if answer.status == 200:
                            return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the server did not answer within {SERVER_START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, as ``docker stop`` sends it; the exit status (the whole group is killed if stuck)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running(db_path: Path, workers: int, log_path: Path, before: str = "") -> Iterator[Server]:
    server = Server(db_path, workers, log_path, before)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
