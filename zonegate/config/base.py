"""Shared base for every config model: frozen, no unknown keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Base model: immutable, rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


Seconds = Annotated[float, Field(gt=0, le=86400, description="a duration in seconds")]
Ratio = Annotated[float, Field(ge=0, le=1)]
Port = Annotated[int, Field(ge=0, le=65535)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")]
