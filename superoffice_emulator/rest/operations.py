"""The emulated operations as REST has them: a JSON body read into the pipeline's arguments.

Property names are matched in any case (the docs write ``ActivityIdentifier``, SuperOffice's
TypeScript client sends ``activityIdentifier``); properties the operation does not have are
ignored, as ASP.NET's model binding ignores them. A value of the wrong type, or an enum value
that does not exist, is a :class:`ClientFault` (HTTP 400) naming the property and the value.
Only operations with a REST form are here: ``SoPrincipal`` has no Agents endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from superoffice_emulator.calls import pipeline
from superoffice_emulator.domain.activities import ActivityStatus
from superoffice_emulator.domain.errors import ClientFault, shown

Reader = Callable[[object], pipeline.Arguments]
"""An operation's reader: the parsed JSON body (any JSON value) → its arguments, or ``ClientFault``."""
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def json_type(value: object) -> str:
    """What JSON calls ``value``'s type, for a message ("a string", "a number", ...)."""
    return _JSON_TYPES.get(type(value), "a number")


def properties(body: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The body's properties named ``names``, found in any case; absent ones are left out."""
    if not isinstance(body, dict):
        raise ClientFault(f"The body must be a JSON object, not {json_type(body)}.", http_status=400)
    wanted = {name.lower(): name for name in names}
    found: dict[str, Any] = {}
    for key, value in body.items():
        name = wanted.get(key.lower())
        if name is None:
            continue
        if name in found:
            raise ClientFault(
                f"The property {name} is given twice (names match in any case).", http_status=400
            )
        found[name] = value
    return found


def _identifiers(value: object) -> list[str | None]:
    if value is None:
        return []  # a missing or null array changes nothing (docs/behaviour.md)
    if not isinstance(value, list):
        raise ClientFault(
            f"ActivityIdentifier must be an array of strings, not {json_type(value)}: {shown(value)}.",
            http_status=400,
        )
    for index, item in enumerate(value):
        if item is not None and not isinstance(item, str):
            raise ClientFault(
                f'ActivityIdentifier[{index}] must be a string such as "appointment_id=666", '
                f"not {json_type(item)}: {shown(item)}.",
                http_status=400,
            )
    return value


_STATUS_NAMES = {status.name.lower(): status for status in ActivityStatus}
_ALLOWED = ", ".join(f"{s.name} ({int(s)})" for s in ActivityStatus)


def _status(body: Mapping[str, Any]) -> ActivityStatus:
    if "ActivityStatus" not in body:
        return ActivityStatus.Unknown  # the .NET default of a missing enum
    value = body["ActivityStatus"]
    found: ActivityStatus | None = None
    if isinstance(value, str):
        text = value.strip()
        found = _STATUS_NAMES.get(text.lower())
        if found is None and text.isdigit() and text.isascii():
            value = int(text)
    if found is None and isinstance(value, int) and not isinstance(value, bool):
        found = next((s for s in ActivityStatus if int(s) == value), None)
    if found is not None:
        return found
    if isinstance(value, str | int) and not isinstance(value, bool):
        problem = f"The value {shown(value)} of ActivityStatus is not valid"
    else:
        problem = f"ActivityStatus must be a name or a number, not {json_type(value)}"
    raise ClientFault(f"{problem}; it must be one of {_ALLOWED}.", http_status=400)


def read_set_activity_status(body: object) -> pipeline.SetActivityStatus:
    found = properties(body, ("ActivityIdentifier", "ActivityStatus"))
    return pipeline.SetActivityStatus(_identifiers(found.get("ActivityIdentifier")), _status(found))


_READERS: dict[type[pipeline.Arguments], Reader] = {pipeline.SetActivityStatus: read_set_activity_status}

AGENTS: dict[str, dict[str, Reader]] = {
    service: {name: _READERS[arguments] for name, arguments in operations.items() if arguments in _READERS}
    for service, operations in pipeline.SERVICES.items()
    if any(arguments in _READERS for arguments in operations.values())
}
"""Agent (service) name → operation name → its JSON reader, for the operations with a REST form."""

ENDPOINTS: tuple[tuple[str, str], ...] = tuple(
    (service, name) for service, operations in AGENTS.items() for name in operations
)
"""(agent, operation) of every REST call the emulator serves, in a stable order."""
