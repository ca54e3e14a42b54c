"""Shared field types of the experiment models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from zonegate.config.base import StrictModel

Duration = Annotated[float, Field(ge=0, le=3600, description="seconds")]
PositiveDuration = Annotated[float, Field(gt=0, le=3600, description="seconds")]
Fraction = Annotated[float, Field(ge=0, le=1, description="a ratio from 0 to 1")]
Target = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description=(
            "what `zonegate ctl` accepts: a process (eu-west-1a-1), a zone (eu-west-1a), "
            "a kind (nodes, backends, etcd), a service (orders) or ZONE/KIND; ${param} allowed"
        ),
    ),
]
Link = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._:${}-]{1,200}$",
        description=(
            "a fault-proxy link: glb:ZONE (GLB -> the zone's nodes), etcd:ZONE (the zone's nodes "
            "-> etcd), backends:ZONE (nodes -> the zone's backends), or a proxy name"
        ),
    ),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        description="http(s) URL; ${glb}, ${glb_admin}, ${slo} and ${param} are filled in",
    ),
]

__all__ = [
    "Duration",
    "Fraction",
    "Link",
    "PositiveDuration",
    "StrictModel",
    "Target",
    "Url",
]
