"""Start-up without the cyclic garbage collector.

A server's start makes a few hundred thousand objects that live as long as its process (the imports,
SQLAlchemy's above all, the compiled statements, the fixtures), and the collector would walk them
again and again while they are being made: about a tenth of the start-up. So the collector is paused
while a server starts, and once it is ready to answer, what exists by then is frozen out of the
collector's sight (which also spares a forked worker the copies of the pages a collection would
touch) and the collector runs again::

    with collector.paused():
        app = create_app(settings)  # imports, schema, fixtures
        collector.ready()           # about to answer: freeze what exists, collect from here on

Leaving the block without :func:`ready` (a failure to start, a test's stand-in for the serving
loop) only puts the collector back as it was.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_pausing = 0
"""How many :func:`paused` blocks are open and not :func:`ready` yet."""


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off in the block (unless :func:`ready` turns it on); as it was after it."""
    global _pausing
    enabled = gc.isenabled()
    gc.disable()
    _pausing += 1
    try:
        yield
    finally:
        _pausing = max(0, _pausing - 1)
        if enabled:
            gc.enable()


def ready() -> None:
    """In a :func:`paused` block: freeze every object made so far, and run the collector again.

    Outside one, nothing happens (an app served in a test's process is not frozen)."""
    global _pausing
    if _pausing:
        _pausing = 0
        gc.freeze()
        gc.enable()
