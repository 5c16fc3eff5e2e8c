"""A live emulator on a free port, in a background thread: for tests that need a real socket.

With ``Settings(tls=True)`` it serves HTTPS with the certificate of
:mod:`superoffice_emulator.server.certificates` (the authority beside the database, or in ``tls_dir``).

from superoffice_emulator.testing import LiveServer

with LiveServer(Settings(database_url="sqlite:///tmp/t.db")) as server:
    url = server.url("/Remote/Services86/Appointment.svc")
"""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.clock import Clock, utcnow
from superoffice_emulator.settings import Settings


class LiveServer:
    """Serves ``create_app(settings)`` on ``host`` and a free port until :meth:`stop`."""

    def __init__(
        self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0, clock: Clock = utcnow
    ) -> None:
        self.scheme = "https" if settings.tls else "http"
        context = None
        if settings.tls:
            from superoffice_emulator.server.certificates import prepare

            context = prepare(settings, host).context()
        self.app: EmulatorApp = create_app(settings, clock=clock)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, ssl_context=context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    def url(self, path: str = "") -> str:
        """The absolute URL of ``path`` on this server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.runtime.database.dispose()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
