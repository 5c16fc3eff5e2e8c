"""What the sections share: the request, timing, the table, servers in subprocesses, load generators."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO

QUICK = os.environ.get("BENCH_QUICK", "").strip().lower() not in ("", "0", "false", "no")
ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
"""The servers ``compare`` measures the emulator against, with their ``compare.sh`` and wrk script."""
APPOINTMENT = "/Remote/Services86/Appointment.svc"
WSDL = APPOINTMENT + "?wsdl"
TICKET = "7T:1234abcxyzExample=="
TOKEN = "1234567-1234-9876"
SOAP_ACTION = '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"'
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION}
SUCCEEDED = b">true</Succeeded>"


def q(full: int, quick: int) -> int:
    """``full``, or ``quick`` under BENCH_QUICK=1."""
    return quick if QUICK else full


def soap_request(identifiers: Sequence[str], status: str = "Completed") -> bytes:
    """The peers' request (``benchmarks/peers/req11.xml``) with ``identifiers`` in its array."""
    items = "".join(f"<a:string>{i}</a:string>" for i in identifiers)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">\n'
        f" <s:Header>\n  <t:ApplicationToken>{TOKEN}</t:ApplicationToken>\n"
        f"  <t:Credentials><t:Ticket>{TICKET}</t:Ticket></t:Credentials>\n </s:Header>\n"
        f" <s:Body>\n  <t:SetActivityStatus>\n   <t:ActivityIdentifier>{items}</t:ActivityIdentifier>\n"
        f"   <t:ActivityStatus>{status}</t:ActivityStatus>\n  </t:SetActivityStatus>\n </s:Body>\n"
        "</s:Envelope>\n"
    ).encode()


ONE_ID = soap_request(["appointment_id=17"])

REST_CALL = "/api/v1/Agents/Appointment/SetActivityStatus"
REST_HEADERS = {
    "Content-Type": "application/json",
    "Authorization": f"SOTicket {TICKET}",
    "SO-AppToken": TOKEN,
}


def rest_request(identifiers: Sequence[str], status: str = "Completed") -> bytes:
    """The REST twin's body for the same call as :func:`soap_request` (camelCase, as SuperOffice's client)."""
    return json.dumps({"activityIdentifier": list(identifiers), "activityStatus": status}).encode()


REST_ONE_ID = rest_request(["appointment_id=17"])


@dataclass(frozen=True)
class Wire:
    """How a one-id call is sent on a wire, and how its success looks."""

    name: str
    path: str
    headers: dict[str, str]
    script: Path
    """wrk's script for the wire (it reads the body from $REQ)."""
    one_id: bytes
    status: int
    marker: bytes | None = None
    """Bytes a successful answer contains, if any."""

    def succeeded(self, status: int, data: bytes) -> bool:
        return status == self.status and (self.marker is None or self.marker in data)


SOAP = Wire("SOAP", APPOINTMENT, HEADERS, PEERS / "post.lua", ONE_ID, 200, SUCCEEDED)
REST = Wire("REST", REST_CALL, REST_HEADERS, HERE / "post_rest.lua", REST_ONE_ID, 204)
WIRES = {"soap": SOAP, "rest": REST}


# -- results --------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    case: str
    figure: str
    detail: str = ""
    load: str = field(default_factory=lambda: f"{os.getloadavg()[0]:.2f}")


class Table:
    """The rows measured so far; each is echoed to stderr as it comes, the whole table printed last."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, section: str, case: str, figure: str, detail: str = "") -> None:
        row = Row(section, case, figure, detail)
        self.rows.append(row)
        progress(f"  {row.section:<11} {row.case:<44} {row.figure:>16}  {row.detail}")

    def render(self) -> str:
        header = Row("section", "case", "figure", "detail", "load")
        rows = [header, *self.rows]
        widths = [max(len(getattr(r, name)) for r in rows) for name in ("section", "case", "figure", "load")]
        lines = []
        for index, r in enumerate(rows):
            lines.append(
                f"| {r.section:<{widths[0]}} | {r.case:<{widths[1]}} | {r.figure:>{widths[2]}} "
                f"| {r.load:>{widths[3]}} | {r.detail}"
            )
            if index == 0:
                lines.append(
                    f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 2)}|{'-' * (widths[2] + 1)}:"
                    f"|{'-' * (widths[3] + 1)}:|---"
                )
        return "\n".join(lines)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def machine() -> list[str]:
    """Lines naming the machine, the software and the moment."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from superoffice_emulator import __version__

    versions = [f"superoffice-emulator {__version__}", f"SQLite {sqlite3.sqlite_version}"]
    for name in ("granian", "lxml", "SQLAlchemy", "Werkzeug"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"software: {', '.join(versions)}",
        f"load average at start (1, 5, 15 min): {load}; the load column is the 1-minute load after each row",
        f"mode: {'quick (BENCH_QUICK=1)' if QUICK else 'full'}",
    ]


# -- figures ---------------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[index]


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``function``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def summary(times: Sequence[float]) -> str:
    return f"median of {len(times)}; min {ms(min(times))}, p99 {ms(percentile(times, 99))}"


# -- in-process emulator ------------------------------------------------------------------------
class InProcess:
    """An emulator in this process, called through werkzeug's test client (no sockets)."""

    def __init__(self, database_url: str, **settings: object) -> None:
        from werkzeug.test import Client

        from superoffice_emulator.app import create_app
        from superoffice_emulator.server.logs import configure_logging
        from superoffice_emulator.settings import Settings

        configure_logging("warning")  # the per-call log line is not what is measured
        self.app = create_app(Settings(database_url=database_url, mode="online").replace(**settings))
        self.client = Client(self.app)

    def call(self, body: bytes = ONE_ID, wire: Wire = SOAP) -> bytes:
        answer = self.client.post(wire.path, data=body, headers=wire.headers)
        data = answer.get_data()
        if not wire.succeeded(answer.status_code, data):
            raise RuntimeError(f"the {wire.name} call failed: HTTP {answer.status_code}: {data[:600]!r}")
        return data

    def call_direct(self, body: bytes = ONE_ID) -> bytes:
        """The SOAP call through the WSGI app itself, without the test client (as a server calls it)."""
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": APPOINTMENT,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8080",
            "CONTENT_TYPE": HEADERS["Content-Type"],
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_SOAPACTION": SOAP_ACTION,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        statuses: list[str] = []

        def start_response(
            status: str, headers: object, exc_info: object = None
        ) -> Callable[[bytes], object]:
            statuses.append(status)
            return lambda data: None

        data = b"".join(self.app(environ, start_response))
        if not statuses[0].startswith("200") or SUCCEEDED not in data:
            raise RuntimeError(f"the SOAP call failed: {statuses[0]}: {data[:600]!r}")
        return data

    def close(self) -> None:
        self.app.runtime.database.dispose()


# -- servers in subprocesses ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command() -> list[str]:
    """The ``superoffice-emulator`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "superoffice-emulator"
    if script.exists():
        return [str(script)]
    found = shutil.which("superoffice-emulator")
    return [found] if found else [sys.executable, "-m", "superoffice_emulator"]


def server_argv(kind: str, port: str, database_url: str) -> list[str]:
    """``superoffice-emulator serve`` as ``cli`` (``--workers 0``: werkzeug, one process) or ``granian:N``
    (N workers; 1 is the default)."""
    if kind == "cli":
        workers = "0"
    elif kind.startswith("granian:"):
        workers = kind.split(":", 1)[1]
    else:
        raise ValueError(f"unknown server kind {kind!r}; use cli or granian:N")
    return [
        *cli_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--workers",
        workers,
        "--database-url",
        database_url,
        "--mode",
        "online",
        "--log-level",
        "warning",
    ]


def shell_command(argv: Sequence[str]) -> str:
    """``argv`` for ``bash -c``, with a literal ``$PORT`` left for the shell to expand."""
    return " ".join(a if a == "$PORT" else shlex.quote(a) for a in argv)


def describe(kind: str) -> str:
    if kind == "cli":
        return "serve --workers 0 (werkzeug, 1 process)"
    workers = int(kind.split(":", 1)[1])
    return f"serve --workers {workers} (granian)"


class Server:
    """A server subprocess on a free port, in its own process group, with its output in a file."""

    def __init__(
        self,
        kind: str,
        database_url: str,
        work: Path,
        options: Sequence[str] = (),
        *,
        argv: Callable[[int], Sequence[str]] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``options``: more options of ``serve``; ``argv``, given the port, another command to run
        instead (``kind`` then only names it), with ``env`` added to this process's environment."""
        self.port = free_port()
        self.kind = kind
        name = re.sub(r"[^\w.-]+", "-", kind)
        self._log: IO[bytes] = (work / f"server-{name}-{self.port}.log").open("wb")
        self.started = time.perf_counter()
        command = argv(self.port) if argv else [*server_argv(kind, str(self.port), database_url), *options]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(
        self, path: str = "/", timeout: float = 60.0, interval: float = 0.005, wire: Wire | None = None
    ) -> float:
        """Poll ``path`` until it answers 200 (or, with ``wire``, until its one-id call succeeds);
        the seconds since the process was started."""
        deadline = self.started + timeout
        target = path if wire is None else wire.path
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}; see {self._log.name}")
            request = urllib.request.Request(
                self.url(target),
                data=None if wire is None else wire.one_id,
                headers={} if wire is None else wire.headers,
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status, data = answer.status, answer.read()
            except OSError:
                time.sleep(interval)
                continue
            if (status == 200) if wire is None else wire.succeeded(status, data):
                return time.perf_counter() - self.started
            raise RuntimeError(f"{self.kind} answered {target} with {status}: {data[:300]!r}")
        raise RuntimeError(f"{self.kind} did not answer {target} within {timeout} s; see {self._log.name}")

    def pids(self) -> list[int]:
        """The server's process and its children (granian's workers)."""
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        except OSError:
            pass
        return pids

    def cpu_seconds(self) -> float:
        """The CPU time the server's processes have run so far (their live threads'): on a machine
        other programs keep busy, what a start-up costs by itself, where its wall time does not tell."""
        total = 0
        for pid in self.pids():
            try:
                tasks = list(Path(f"/proc/{pid}/task").iterdir())
            except OSError:
                continue
            for task in tasks:
                with contextlib.suppress(OSError, ValueError, IndexError):  # a thread just ended
                    total += int((task / "schedstat").read_text().split()[0])  # nanoseconds on a CPU
        return total / 1e9

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A ``/proc/<pid>/status`` field in KiB (VmRSS now, VmHWM the peak); 0 if unreadable."""
    try:
        match = re.search(rf"^{field_name}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return 0
    return int(match.group(1)) if match else 0


# -- load generators ---------------------------------------------------------------------------
@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str

    def figure(self) -> str:
        return f"{self.requests_per_second:,.0f} req/s"

    def detail(self) -> str:
        failed = f", {self.errors} FAILED" if self.errors else ""
        latency = f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"
        return f"{latency}, {self.requests:,} calls{failed} ({self.tool})"


def has_wrk() -> bool:
    return shutil.which("wrk") is not None and not os.environ.get("BENCH_NO_WRK")


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _request_file(body: bytes) -> Path:
    descriptor, name = tempfile.mkstemp(prefix="bench-req-", suffix=".xml")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(body)
    return Path(name)


def wrk(
    url: str,
    body: bytes,
    connections: int,
    seconds: float,
    script: Path = PEERS / "post.lua",
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Load:
    """wrk with one thread and ``connections`` keep-alive connections for ``seconds`` (whole seconds);
    ``prefix`` runs it under another command (``taskset -c 0``); ``env`` adds variables the script
    reads (``mixed.lua``'s ``REQ1``...)."""
    request = _request_file(body)
    env = {**os.environ, **(env or {}), "REQ": str(request)}
    argv = [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    try:
        out = subprocess.run(
            [*argv, "-s", str(script), url], env=env, capture_output=True, text=True, check=True
        ).stdout
    finally:
        request.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Load(rps, p50, p99, total, errors, f"wrk -c{connections}")


def python_load(
    host: str, port: int, body: bytes, connections: int, seconds: float, wire: Wire = SOAP
) -> Load:
    """A threaded keep-alive client, for machines without wrk (it shares the CPUs and the GIL)."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.perf_counter() + seconds

    def run(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        mine = latencies[index]
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                connection.request("POST", wire.path, body=body, headers=wire.headers)
                answer = connection.getresponse()
                data = answer.read()
                if not wire.succeeded(answer.status, data):
                    errors[index] += 1
            except OSError:
                errors[index] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
            mine.append(time.perf_counter() - started)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [value for mine in latencies for value in mine]
    return Load(
        len(every) / elapsed,
        statistics.median(every) * 1000,
        percentile(every, 99) * 1000,
        len(every),
        sum(errors),
        f"python client, {connections} threads",
    )


def load(
    server: Server,
    body: bytes,
    connections: int,
    seconds: float,
    limit: int | None = None,
    wire: Wire = SOAP,
) -> Load:
    """``seconds`` of load on ``server``; with ``limit``, runs of it until that many calls are answered."""
    if limit is None:
        return _load_once(server, body, connections, seconds, wire)
    runs: list[Load] = []
    while sum(run.requests for run in runs) < limit:
        missing = limit - sum(run.requests for run in runs)
        rate = runs[-1].requests_per_second if runs else 200.0
        runs.append(_load_once(server, body, connections, min(10.0, max(1.0, missing / rate)), wire))
    total = sum(run.requests for run in runs)
    elapsed = sum(run.requests / run.requests_per_second for run in runs if run.requests_per_second)
    return Load(
        total / elapsed if elapsed else 0.0,
        statistics.median(run.p50_ms for run in runs),
        max(run.p99_ms for run in runs),
        total,
        sum(run.errors for run in runs),
        runs[0].tool + f", {len(runs)} runs",
    )


def _load_once(server: Server, body: bytes, connections: int, seconds: float, wire: Wire = SOAP) -> Load:
    if has_wrk():
        return wrk(server.url(wire.path), body, connections, seconds, wire.script)
    return python_load("127.0.0.1", server.port, body, connections, seconds, wire)


def work_dir() -> Path:
    """A fresh folder for this run's databases and logs (BENCH_WORK sets its parent)."""
    parent = Path(os.environ.get("BENCH_WORK", tempfile.gettempdir()))
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="superoffice-emulator-bench-", dir=parent))
