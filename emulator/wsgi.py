"""The emulator as a WSGI application for multi-process servers, configured by ``EMULATOR_*`` variables.

    EMULATOR_DATABASE_URL=sqlite:///crm.db granian --interface wsgi --workers 2 emulator.wsgi:app
    EMULATOR_DATABASE_URL=sqlite:///crm.db gunicorn --workers 2 'emulator.wsgi:make_app()'

The variables are the ones the CLI reads (``superoffice-emulator serve --help`` names them):
``EMULATOR_DATABASE_URL``, ``EMULATOR_FIXTURES``, ``EMULATOR_MODE``, ``EMULATOR_CONTRACT``,
``EMULATOR_WRAP_EXCEPTIONS``, ``EMULATOR_STRICT``, ``EMULATOR_TICKET_LIFETIME``, ``EMULATOR_JOURNAL_SIZE``,
``EMULATOR_ADMIN_TOKEN``, ``EMULATOR_MAX_BODY_BYTES``, ``EMULATOR_DEFAULT_TENANT``, and for logging
``EMULATOR_LOG_LEVEL`` and ``EMULATOR_LOG_FORMAT``. A variable that is not set keeps the
:class:`~emulator.settings.Settings` default.

Importing this module builds nothing: ``app`` is made on first access, in the process that serves it,
so that every worker of a pre-forking server opens its own database engine after the fork (a SQLite
connection must never cross a ``fork``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from emulator.logs import LOG_FORMATS, LOG_LEVELS, LogFormat, configure_logging
from emulator.settings import CONTRACTS, Mode, Settings

if TYPE_CHECKING:
    from emulator.app import EmulatorApp

__all__ = ["app", "make_app", "settings_from_env", "settings_to_env"]

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={text!r} is not a boolean; use true or false.")


def _positive(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} is not a whole number of at least 1.")
    return value


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``EMULATOR_*`` variables (``os.environ`` by default); ValueError on a bad value."""
    env = os.environ if environ is None else environ
    changes: dict[str, object] = {}
    if "EMULATOR_DATABASE_URL" in env:
        changes["database_url"] = env["EMULATOR_DATABASE_URL"]
    if env.get("EMULATOR_FIXTURES"):
        changes["fixtures"] = Path(env["EMULATOR_FIXTURES"])
    if "EMULATOR_MODE" in env:
        mode = env["EMULATOR_MODE"].strip().lower()
        if mode not in get_args(Mode):
            raise ValueError(f"EMULATOR_MODE={env['EMULATOR_MODE']!r} must be onsite or online.")
        changes["mode"] = mode
    if "EMULATOR_CONTRACT" in env:
        contract = env["EMULATOR_CONTRACT"].strip().lower()
        if contract not in CONTRACTS:
            raise ValueError(f"EMULATOR_CONTRACT={env['EMULATOR_CONTRACT']!r} must be lenient or netserver.")
        changes["contract"] = contract
    if "EMULATOR_WRAP_EXCEPTIONS" in env:
        changes["wrap_exceptions"] = _bool("EMULATOR_WRAP_EXCEPTIONS", env["EMULATOR_WRAP_EXCEPTIONS"])
    if "EMULATOR_STRICT" in env:
        changes["strict"] = _bool("EMULATOR_STRICT", env["EMULATOR_STRICT"])
    if "EMULATOR_TICKET_LIFETIME" in env:
        changes["ticket_lifetime_seconds"] = _positive(
            "EMULATOR_TICKET_LIFETIME", env["EMULATOR_TICKET_LIFETIME"]
        )
    if "EMULATOR_JOURNAL_SIZE" in env:
        changes["journal_size"] = _positive("EMULATOR_JOURNAL_SIZE", env["EMULATOR_JOURNAL_SIZE"])
    if "EMULATOR_ADMIN_TOKEN" in env:
        changes["admin_token"] = env["EMULATOR_ADMIN_TOKEN"] or None
    if "EMULATOR_MAX_BODY_BYTES" in env:
        changes["max_body_bytes"] = _positive("EMULATOR_MAX_BODY_BYTES", env["EMULATOR_MAX_BODY_BYTES"])
    if "EMULATOR_DEFAULT_TENANT" in env:
        changes["default_tenant"] = env["EMULATOR_DEFAULT_TENANT"]
    return Settings().replace(**changes)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The ``EMULATOR_*`` variables that :func:`settings_from_env` turns back into ``settings``."""
    env = {
        "EMULATOR_DATABASE_URL": settings.database_url,
        "EMULATOR_FIXTURES": str(settings.fixtures),
        "EMULATOR_MODE": settings.mode,
        "EMULATOR_CONTRACT": settings.contract,
        "EMULATOR_WRAP_EXCEPTIONS": str(settings.wrap_exceptions).lower(),
        "EMULATOR_STRICT": str(settings.strict).lower(),
        "EMULATOR_TICKET_LIFETIME": str(settings.ticket_lifetime_seconds),
        "EMULATOR_JOURNAL_SIZE": str(settings.journal_size),
        "EMULATOR_ADMIN_TOKEN": settings.admin_token or "",
        "EMULATOR_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "EMULATOR_DEFAULT_TENANT": settings.default_tenant,
    }
    return env


def _log_options(env: Mapping[str, str]) -> tuple[str, LogFormat]:
    level = env.get("EMULATOR_LOG_LEVEL", "info").strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"EMULATOR_LOG_LEVEL={level!r} must be one of {', '.join(LOG_LEVELS)}.")
    log_format = env.get("EMULATOR_LOG_FORMAT", "text").strip().lower()
    for known in LOG_FORMATS:
        if log_format == known:
            return level, known
    raise ValueError(f"EMULATOR_LOG_FORMAT={log_format!r} must be one of {', '.join(LOG_FORMATS)}.")


def make_app(settings: Settings | None = None, *, configure_logs: bool = True) -> EmulatorApp:
    """A new emulator for ``settings`` (default: from ``EMULATOR_*``), logging as ``EMULATOR_LOG_*`` say.

    Call it in the process that serves: gunicorn's ``'emulator.wsgi:make_app()'`` and granian's
    ``--factory emulator.wsgi:make_app`` do, once per worker.
    """
    from emulator.app import create_app

    if configure_logs:
        configure_logging(*_log_options(os.environ))
    return create_app(settings if settings is not None else settings_from_env())


app: EmulatorApp
"""This process's emulator, made from the environment on first access (see :func:`__getattr__`)."""

_app: EmulatorApp | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> EmulatorApp:
    """``emulator.wsgi.app``: this process's emulator, made from the environment on first access."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _app_lock:
        if _app is None:
            _app = make_app()
        return _app
