"""The admin API: JSON under ``/_emulator/`` (and ``/{tenant}/_emulator/``) to reset, seed, inspect and break.

    curl -X POST http://127.0.0.1:8080/_emulator/reset
    curl 'http://127.0.0.1:8080/Cust1/_emulator/activities?status=Completed'
    curl -X POST http://127.0.0.1:8080/_emulator/faults -d '{"kind": "http503", "count": 2}'

:func:`superoffice_emulator.admin.api.handle` answers one request, :func:`mount` makes it the
factory's small app (the API's module loads with its first request);
:mod:`superoffice_emulator.admin.openapi` describes every endpoint. It knows nothing of SOAP: it
works on the :class:`~superoffice_emulator.calls.runtime.Runtime` (database, fault plans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from superoffice_emulator.server.web import Mount

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from superoffice_emulator.calls.runtime import Runtime


def mount(runtime: Runtime) -> Mount:
    """The admin API of ``runtime`` as a small app, at ``/_emulator`` and ``/{tenant}/_emulator``."""

    def view(request: Request, args: Mapping[str, str]) -> Response:
        from superoffice_emulator.admin.api import handle  # on the first admin request: no call needs it

        return handle(runtime, request, args.get("tenant"), args.get("rest", ""))

    return Mount("admin", ("/_emulator", "/_emulator/<path:rest>"), view)


__all__ = ["mount"]
