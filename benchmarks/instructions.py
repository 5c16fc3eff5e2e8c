"""N one-id calls in-process, for counting a call's instructions with valgrind (docs/performance.md).

    python -m benchmarks.instructions rsgi 300     # through server.rsgi.BufferedWsgi, as serve runs it
    python -m benchmarks.instructions wsgi 300     # the WSGI app, called as a server calls it

Counted so::

    for n in 300 1300; do
        valgrind --tool=callgrind --callgrind-out-file=cg.$n python -m benchmarks.instructions rsgi $n
    done
    # instructions a call: (total of cg.1300 - total of cg.300) / 1000 (callgrind_annotate prints them)

The checkpoint thread is off (its work is not the call's). ``rsgi`` runs the adapter on uvloop
with granian's scope and protocol stood in for by plain objects: the body is there at once and
the answer is kept, so what is counted is the Python side of a request, not granian's.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from typing import Any, ClassVar

from benchmarks.common import APPOINTMENT, HEADERS, ONE_ID, InProcess


class _Scope:
    """The part of granian's RSGI scope the adapter reads, for a one-id SOAP call."""

    proto, http_version, scheme, method = "http", "1.1", "http", "POST"
    server, client, path, query_string, authority = "127.0.0.1:8080", "127.0.0.1:40000", APPOINTMENT, "", None
    headers: ClassVar[dict[str, str]] = {
        "host": "127.0.0.1:8080",
        "content-type": HEADERS["Content-Type"],
        "soapaction": HEADERS["SOAPAction"],
        "content-length": str(len(ONE_ID)),
    }


class _Protocol:
    async def __call__(self) -> bytes:
        return ONE_ID

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        if status != 200:
            raise RuntimeError(f"the call answered {status}: {body[:300]!r}")


def main(path: str, count: int) -> None:
    import superoffice_emulator.storage.checkpoints as checkpoints

    checkpoints.INTERVAL = 1e6  # no checkpoint during the count
    emulator = InProcess(f"sqlite:///{tempfile.mkdtemp()}/instructions.db")
    try:
        if path == "wsgi":
            for _ in range(count + 1):
                emulator.call_direct()
        elif path == "rsgi":
            import uvloop

            uvloop.run(_through_rsgi(emulator, count + 1))  # the loop serve runs calls on
        else:
            raise SystemExit(f"no path {path!r}: rsgi or wsgi")
    finally:
        emulator.close()


async def _through_rsgi(emulator: InProcess, count: int) -> None:
    from superoffice_emulator.server.rsgi import BufferedWsgi

    app = emulator.app
    adapter = BufferedWsgi(
        app,
        request_timeout=30,
        max_body_bytes=1 << 20,
        threads=1,
        reply_to_call=app.reply_to_call,
        calls_on_loop=app.runtime.database.event_loop_safe,
    )
    loop = asyncio.get_running_loop()
    adapter.__rsgi_init__(loop)
    try:
        scope, protocol = _Scope(), _Protocol()
        for _ in range(count):
            await adapter(scope, protocol)  # type: ignore[arg-type]
    finally:
        adapter.__rsgi_del__(loop)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
