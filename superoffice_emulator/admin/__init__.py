"""The admin API: JSON under ``/_emulator/`` (and ``/{tenant}/_emulator/``) to reset, seed, inspect and break.

    curl -X POST http://127.0.0.1:8080/_emulator/reset
    curl 'http://127.0.0.1:8080/Cust1/_emulator/activities?status=Completed'
    curl -X POST http://127.0.0.1:8080/_emulator/faults -d '{"kind": "http503", "count": 2}'

:func:`handle` answers one request, :func:`mount` makes it the factory's small app;
:mod:`superoffice_emulator.admin.openapi` describes every endpoint. It knows nothing of SOAP: it works on
the :class:`~superoffice_emulator.calls.runtime.Runtime` (database, fault plans).
"""

from superoffice_emulator.admin.api import handle
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.server.web import Mount


def mount(runtime: Runtime) -> Mount:
    """The admin API of ``runtime`` as a small app, at ``/_emulator`` and ``/{tenant}/_emulator``."""
    return Mount(
        "admin",
        ("/_emulator", "/_emulator/<path:rest>"),
        lambda request, args: handle(runtime, request, args.get("tenant"), args.get("rest", "")),
    )


__all__ = ["handle", "mount"]
