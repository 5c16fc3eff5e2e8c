"""The call pipeline without a wire: a stand-in codec's commands in, the pipeline's outcome out."""

from __future__ import annotations

from dataclasses import dataclass

from superoffice_emulator.app import EmulatorApp
from superoffice_emulator.calls import pipeline as calls
from superoffice_emulator.domain.activities import ActivityStatus


def command(arrival: calls.Arrival, credentials: calls.Credentials, ids: list[str | None]) -> calls.Command:
    return calls.Command(arrival, credentials, None, calls.SetActivityStatus(ids, ActivityStatus.Completed))


@dataclass(frozen=True)
class Echoed:
    """A stand-in codec's reply: the outcome itself, its ``repr`` as the body."""

    outcome: calls.Outcome

    @property
    def body(self) -> bytes:
        return repr(self.outcome).encode()


def run_pipeline(app: EmulatorApp, arrival: calls.Arrival, decode: calls.Decode) -> calls.Outcome:
    """The pipeline's outcome, as the codec's encoder receives it."""
    return calls.run(app.runtime, arrival, decode, Echoed).outcome


def run_rest(app: EmulatorApp, credentials: calls.Credentials, ids: list[str | None]) -> calls.Outcome:
    """SetActivityStatus as the REST codec will hand it over."""
    arrival = calls.Arrival("rest", "default", "Appointment", "SetActivityStatus")
    return run_pipeline(app, arrival, lambda arrival: command(arrival, credentials, ids))
