"""Which steps of a call must leave a server's event loop, and how a call learns it.

A call may run on the event loop (:mod:`superoffice_emulator.server.rsgi`). A step that would hold
the loop says so before it starts::

    blocking.about_to_block()   # raises WouldBlock on the event loop; returns elsewhere

The steps that do are the storage's (:mod:`superoffice_emulator.storage`): waiting for another
writer of the process, making a tenant from the fixtures, reading what a password is verified
against, handing out a ``latency`` fault. Each raises before the call has committed anything, so
the adapter runs the whole request again on a thread, where :func:`about_to_block` returns at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextvars import ContextVar

_ON_EVENT_LOOP: ContextVar[bool] = ContextVar("emulator_on_event_loop", default=False)


class WouldBlock(BaseException):
    """The call is about to block its thread; run it again where it may (see the module's doc).

    A ``BaseException``: no ``except Exception`` of a call turns it into a failure.
    """


def about_to_block() -> None:
    """Raise :class:`WouldBlock` when running on the event loop; otherwise return."""
    if _ON_EVENT_LOOP.get():
        raise WouldBlock()


class _OnEventLoop:
    """A block in which :func:`about_to_block` raises."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _ON_EVENT_LOOP.set(True)

    def __exit__(self, *exc: object) -> None:
        _ON_EVENT_LOOP.reset(self._token)


def on_event_loop() -> AbstractContextManager[None]:
    """Run the block as a call on the event loop: :func:`about_to_block` raises there."""
    return _OnEventLoop()
