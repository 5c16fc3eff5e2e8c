"""Files replaced whole, never seen half-written: the TLS keys and certificates, kept fixtures."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_whole(path: Path, content: bytes, *, private: bool) -> None:
    """``path`` replaced whole by ``content``; readable by its owner only when ``private``.

    The temporary file is a new one (``mkstemp``: ``O_EXCL``, mode 0600), never a name someone could
    have placed a link at beforehand."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        if not private:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
