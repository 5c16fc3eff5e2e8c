"""Fixture documents already parsed, kept as JSON by the hash of their text: a start skips YAML.

Parsing the demo fixtures' YAML (and importing the parser) is about a tenth of a server's start.
So a YAML fixture file of :data:`LARGE` bytes or more is kept, once it has been parsed and validated,
as the JSON of its document in the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``, then
``superoffice-emulator/``), named by the SHA-256 of its text: an edited file is another name, and a
file that cannot be kept (no writable folder) is simply parsed every time::

    document = parsed.read(text)           # None: parse the YAML (and parsed.keep it)
    parsed.keep(text, document, same=lambda copy: validate(copy) == fixtures)

:func:`keep` keeps a document only when ``same`` says its JSON copy validates to the very same
fixtures (a YAML date, an integer key or a plain password hashed anew would not), so reading the
copy can never give other fixtures than parsing the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

LARGE = 16 * 1024
"""Fixture texts smaller than this parse in a few milliseconds: they are not kept."""


def folder() -> Path:
    """Where parsed documents are kept."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "superoffice-emulator" / "fixtures"


def read(text: str) -> object | None:
    """The document kept for ``text``; ``None`` when there is none (or it cannot be read)."""
    if len(text) < LARGE:
        return None
    try:
        document: object = json.loads((folder() / _name(text)).read_bytes())
    except (OSError, ValueError):
        return None
    return document


def keep(text: str, document: object, *, same: Callable[[object], bool]) -> None:
    """Keep ``document``, parsed from ``text``, if its JSON copy is the ``same``; quietly not when
    it is not, or cannot be written."""
    if len(text) < LARGE:
        return
    try:
        encoded = json.dumps(document, default=_date, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return
    if not same(json.loads(encoded)):
        return
    with contextlib.suppress(OSError):
        where = folder()
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=where, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(encoded)
            os.replace(temporary, where / _name(text))
        except OSError:
            os.unlink(temporary)
            raise


def _name(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + ".json"


def _date(value: object) -> str:
    if isinstance(value, date):  # a datetime too: the validator reads ISO text as it reads YAML's
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not kept as JSON")
