"""Two rules on values that every wire and entry point shares, each with its one message.

from superoffice_emulator.domain.values import is_int32, is_tenant_name, tenant_name_error

is_tenant_name("Cust12345")          # True; "../etc" and "a/b" are not tenant names
tenant_name_error("../etc")          # "'../etc' is not a valid tenant name: use 1 to 64 ..."
is_int32(2**31)                      # False: ids, owners and groups are 32-bit, as in NetServer
"""

from __future__ import annotations

import re
from typing import TypeGuard

from superoffice_emulator.domain.errors import shown

TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A tenant name, in paths and the admin API: letters, digits, ``_`` and ``-``; no dots or slashes."""

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT32 = (INT32_MIN, INT32_MAX)
"""The range of a .NET ``int``: record ids, owners, groups, roles."""


def is_tenant_name(text: str) -> bool:
    return TENANT_NAME.fullmatch(text) is not None


def tenant_name_error(text: str) -> str:
    """The message for a string that :func:`is_tenant_name` refuses."""
    return (
        f"{shown(text, 80)} is not a valid tenant name: use 1 to 64 letters, digits, '_' or '-', "
        "starting with a letter or digit (for example Cust12345)."
    )


def is_int32(value: object) -> TypeGuard[int]:
    """``value`` is an ``int`` (not a ``bool``) within :data:`INT32`."""
    return type(value) is int and INT32_MIN <= value <= INT32_MAX


def int32_error(what: str, value: object) -> str:
    """The message for a ``value`` of ``what`` that :func:`is_int32` refuses."""
    return f"{what} must be a 32-bit integer ({INT32_MIN} to {INT32_MAX}), got {shown(value)}"
