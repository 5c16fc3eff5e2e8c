"""The emulator as a WSGI application for multi-process servers, configured by ``EMULATOR_*`` variables.

    EMULATOR_DATABASE_URL=sqlite:///crm.db granian --interface wsgi --workers 2 \
        superoffice_emulator.server.wsgi:app
    EMULATOR_DATABASE_URL=sqlite:///crm.db gunicorn --workers 2 'superoffice_emulator.server.wsgi:make_app()'

The variables are the ones the CLI reads (``superoffice-emulator serve --help`` names them, and
``docs/configuration.md`` lists them all), each checked by the rule the CLI checks it by (both come
from one declaration, :mod:`superoffice_emulator.settings`). A variable that is not set, or empty,
keeps its default.

Importing this module builds nothing: ``app`` is made on first access, in the process that serves it,
so that every worker of a pre-forking server opens its own database engine after the fork (a SQLite
connection must never cross a ``fork``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from superoffice_emulator.server.logs import LogFormat, configure_logging
from superoffice_emulator.settings import ServerOptions, Settings, from_env, to_env

if TYPE_CHECKING:
    from superoffice_emulator.app import EmulatorApp

__all__ = ["app", "make_app", "settings_from_env", "settings_to_env"]


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``EMULATOR_*`` variables (``os.environ`` by default), by the rules the CLI uses;
    :class:`~superoffice_emulator.settings.SettingError` (a ``ValueError``) names a bad one."""
    return from_env(Settings, os.environ if environ is None else environ)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The ``EMULATOR_*`` variables that :func:`settings_from_env` turns back into ``settings``."""
    return to_env(settings)


def _log_options(env: Mapping[str, str]) -> tuple[str, LogFormat]:
    options = from_env(ServerOptions, env, names=("log_level", "log_format"))
    return options.log_level, options.log_format


def make_app(settings: Settings | None = None, *, configure_logs: bool = True) -> EmulatorApp:
    """A new emulator for ``settings`` (default: from ``EMULATOR_*``), logging as ``EMULATOR_LOG_*`` say.

    Call it in the process that serves: gunicorn's ``'superoffice_emulator.server.wsgi:make_app()'`` and
    granian's ``--factory superoffice_emulator.server.wsgi:make_app`` do, once per worker.
    """
    from superoffice_emulator.app import create_app

    if configure_logs:
        configure_logging(*_log_options(os.environ))
    return create_app(settings if settings is not None else settings_from_env())


app: EmulatorApp
"""This process's emulator, made from the environment on first access (see :func:`__getattr__`)."""

_app: EmulatorApp | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> EmulatorApp:
    """``superoffice_emulator.server.wsgi.app``: this process's emulator, made from the environment on first
    access."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _app_lock:
        if _app is None:
            _app = make_app()
        return _app
