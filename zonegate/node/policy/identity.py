"""Who made a request, as the auth filters found out and authorization reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

IDENTITY_ATTRIBUTE: Final = "zonegate.identity"
"""Key of the :class:`Identity` in ``RequestContext.attributes``."""


@dataclass(frozen=True, slots=True)
class Identity:
    consumer: str
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    method: str = ""
