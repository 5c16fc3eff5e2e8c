"""Calls that may run on the server's event loop, and the few steps that must leave it.

Under granian (:mod:`superoffice_emulator.server.rsgi`) a SOAP or REST call runs on the worker's event
loop itself: a handoff to a thread costs more than the whole call. Two steps of a call take long enough to
hold up every other connection of the worker, and say so before they start::

    blocking.about_to_block()   # raises WouldBlock on the event loop; returns elsewhere
    time.sleep(rule.latency_ms / 1000)

They are the verification of a password (Argon2, tens of milliseconds), the wait of an injected
``latency`` fault, making a tenant from the fixtures, and waiting for another writer of the
process (an admin reset, a login's transaction, a checkpoint finishing the WAL) to end.
:class:`WouldBlock` is raised before the call has committed anything (inside its transaction,
which it rolls back, or before one begins); the adapter catches it and runs the whole request
again on a thread of its pool, where :func:`about_to_block` returns at once. A step that comes
after something was committed runs under :func:`allowed` and waits where it is. Everywhere else
(werkzeug's threads, tests, a WSGI server of the user's choice) it always returns. Writers of
other processes (SQLite's busy wait) are waited for on the loop: their transactions are short.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextvars import ContextVar

_ON_EVENT_LOOP: ContextVar[bool] = ContextVar("emulator_on_event_loop", default=False)


class WouldBlock(BaseException):
    """The call is about to block its thread; run it again where it may (see the module's doc).

    A ``BaseException``: no ``except Exception`` of the pipeline turns it into a failure.
    """


def about_to_block() -> None:
    """Raise :class:`WouldBlock` when running on the event loop; otherwise return."""
    if _ON_EVENT_LOOP.get():
        raise WouldBlock()


class _Running:
    """A block run with :func:`about_to_block` raising (``on_loop``) or not; a class, not a
    generator: every call on the event loop enters one."""

    __slots__ = ("_on_loop", "_token")

    def __init__(self, on_loop: bool) -> None:
        self._on_loop = on_loop

    def __enter__(self) -> None:
        self._token = _ON_EVENT_LOOP.set(self._on_loop)

    def __exit__(self, *exc: object) -> None:
        _ON_EVENT_LOOP.reset(self._token)


def on_event_loop() -> AbstractContextManager[None]:
    """Run the block as a call on the event loop: :func:`about_to_block` raises there."""
    return _Running(True)


def allowed() -> AbstractContextManager[None]:
    """Let the block wait where it runs, on the event loop too: for a step that comes after the
    call has committed something (its journal entry after a fault's count was committed), which a
    second run would do again."""
    return _Running(False)
