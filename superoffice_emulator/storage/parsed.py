"""Fixture documents already parsed, kept as JSON by the hash of their text: a start skips YAML.

Parsing the demo fixtures' YAML (and importing the parser) is about a tenth of a server's start.
So a YAML fixture file of :data:`LARGE` characters or more is kept, once it has been parsed and
validated, as the JSON of its document in the user's cache folder (``$XDG_CACHE_HOME``, else
``~/.cache``, then ``superoffice-emulator/fixtures/``), named by the SHA-256 of the emulator's version
and the file's text: an edited file, or another version of the emulator, is another name, and where
nothing can be kept the file is simply parsed every time::

    document = parsed.read(text)           # None: parse the YAML (and parsed.keep it)
    parsed.keep(text, document, same=lambda copy: validate(copy) == fixtures)

:func:`keep` keeps a document only when ``same`` says its JSON copy validates to the very same
fixtures (a YAML date, an integer key or a plain password hashed anew would not). :func:`read` trusts
a copy only in a folder and a file of the user's own (or root's) that no one else may write, opened
without following a link: whoever could change it could as well change the fixture file itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path

from superoffice_emulator import __version__
from superoffice_emulator.files import write_whole

LARGE = 16 * 1024
"""Fixture texts shorter than this (in characters) parse in a few milliseconds: they are not kept."""


def folder() -> Path | None:
    """Where parsed documents are kept; ``None`` when there is no absolute cache folder to use."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(root):  # the XDG spec says to ignore a relative one; "~" when there is no home
        return None
    return Path(root) / "superoffice-emulator" / "fixtures"


def read(text: str) -> object | None:
    """The document kept for ``text``; ``None`` when there is none (or it is not to be trusted)."""
    where = folder()
    if len(text) < LARGE or where is None or not _private(where):
        return None
    try:
        handle = os.open(where / _name(text), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(handle, "rb") as file:
            if not _private(file.fileno()):
                return None
            document: object = json.loads(file.read())
    except (OSError, ValueError, RecursionError):
        return None
    return document


def keep(text: str, document: object, *, same: Callable[[object], bool]) -> None:
    """Keep ``document``, parsed from ``text``, if its JSON copy is the ``same``; quietly not when
    it is not, or cannot be written."""
    where = folder()
    if len(text) < LARGE or where is None:
        return
    with contextlib.suppress(OSError):
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private(where):
        return  # before validating a copy that could not be kept
    try:
        encoded = json.dumps(document, default=_date, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return
    if not same(json.loads(encoded)):
        return
    with contextlib.suppress(OSError):
        write_whole(where / _name(text), encoded.encode("utf-8"), private=True)


def _private(path: Path | int) -> bool:
    """Whether ``path`` (or an open file) is the user's own or root's, and no one else may write it."""
    if not hasattr(os, "getuid"):
        return True  # Windows: the user's profile folder is the user's
    try:
        status = os.stat(path)
    except OSError:
        return False
    others = stat.S_IWGRP | stat.S_IWOTH
    return status.st_uid in (os.getuid(), 0) and not status.st_mode & others


def _name(text: str) -> str:
    return hashlib.sha256(f"{__version__}\n{text}".encode()).hexdigest() + ".json"


def _date(value: object) -> str:
    if isinstance(value, date):  # a datetime too: the validator reads ISO text as it reads YAML's
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not kept as JSON")
