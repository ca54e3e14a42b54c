"""What actions and probes work with while a drill runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from zonegate.chaos.environment import DrillEnvironment
from zonegate.chaos.guards import ObjectiveOf
from zonegate.chaos.observer import ClusterObserver
from zonegate.chaos.records import RequestRecord
from zonegate.chaos.slo_link import Objectives


@dataclass
class DrillContext:
    env: DrillEnvironment
    session: aiohttp.ClientSession
    objectives: ObjectiveOf = field(default_factory=Objectives)
    observer: ClusterObserver | None = None
    records: list[RequestRecord] = field(default_factory=list)
    """the load's requests so far (appended to as the log grows)"""
    clock: Callable[[], float] = time.time
