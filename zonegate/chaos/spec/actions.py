"""Actions an experiment can take, one model per ``kind`` (a discriminated union).

Each action says whether it injects a fault or recovers from one
(:attr:`ActionBase.mark`); the report measures detection and failover from
the first fault and recovery from the first recovery.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from zonegate.chaos.spec.common import (
    Duration,
    Fraction,
    Link,
    PositiveDuration,
    StrictModel,
    Target,
    Url,
)

FAULT = "fault"
RECOVERY = "recovery"
NEUTRAL = "none"


class ActionBase(StrictModel):
    mark: ClassVar[str] = NEUTRAL


# --- processes of the local cluster (zonegate ctl verbs) -----------------------------
class KillAction(ActionBase):
    """SIGKILL every process of the target (a node, a zone, ...)."""

    kind: Literal["kill"]
    target: Target
    mark: ClassVar[str] = FAULT


class PauseAction(ActionBase):
    """SIGSTOP: the processes hang (connections open, nothing answered)."""

    kind: Literal["pause"]
    target: Target
    mark: ClassVar[str] = FAULT


class ResumeAction(ActionBase):
    kind: Literal["resume"]
    target: Target
    mark: ClassVar[str] = RECOVERY


class StartAction(ActionBase):
    """Start stopped or killed processes again and wait until they are healthy."""

    kind: Literal["start"]
    target: Target
    mark: ClassVar[str] = RECOVERY


class StopAction(ActionBase):
    """Graceful stop (SIGTERM: the node drains), SIGKILL after the stop timeout."""

    kind: Literal["stop"]
    target: Target
    mark: ClassVar[str] = FAULT


class DrainAction(ActionBase):
    """Planned evacuation: readiness 503, deregister, finish in-flight requests, exit."""

    kind: Literal["drain"]
    target: Target
    mark: ClassVar[str] = FAULT


class RestartAction(ActionBase):
    """Drain (graceful stop) then start again, all processes of the target at once."""

    kind: Literal["restart"]
    target: Target
    mark: ClassVar[str] = FAULT


class RollingRestartAction(ActionBase):
    """Drain and restart the target's nodes one at a time, each healthy before the next."""

    kind: Literal["rolling_restart"]
    target: Target = "nodes"
    pause_between_s: Duration = Field(default=1.0, description="wait after each node is back")
    mark: ClassVar[str] = FAULT


# --- etcd -------------------------------------------------------------------------------
class EtcdKillLeaderAction(ActionBase):
    """SIGKILL the current raft leader."""

    kind: Literal["etcd_kill_leader"]
    mark: ClassVar[str] = FAULT


class EtcdStopAction(ActionBase):
    """Stop etcd members (all of them unless ``member`` names one)."""

    kind: Literal["etcd_stop"]
    member: str | None = None
    mark: ClassVar[str] = FAULT


class EtcdStartAction(ActionBase):
    """Start stopped etcd members again."""

    kind: Literal["etcd_start"]
    member: str | None = None
    mark: ClassVar[str] = RECOVERY


# --- network, through the Toxiproxy API -------------------------------------------------
ToxicKind = Literal[
    "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"
]


class ToxicAddAction(ActionBase):
    """Add a toxic to every proxy of a link (Toxiproxy semantics)."""

    kind: Literal["toxic_add"]
    link: Link
    type: ToxicKind
    attributes: dict[str, int] = Field(default_factory=dict)
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: Fraction = 1.0
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    mark: ClassVar[str] = FAULT

    @model_validator(mode="after")
    def _attributes_valid(self) -> ToxicAddAction:
        from zonegate.chaos.faultproxy import FaultProxyError, ToxicSpec

        try:
            ToxicSpec.build(self.type, self.attributes, stream=self.stream, toxicity=self.toxicity)
        except FaultProxyError as exc:
            raise ValueError(exc.message.removeprefix("bad request body: ")) from None
        return self

    @property
    def toxic_name(self) -> str:
        return self.name or f"{self.type}_{self.stream}"


class ToxicRemoveAction(ActionBase):
    """Remove a toxic (by name; ``TYPE_STREAM`` by default) or all toxics of a link."""

    kind: Literal["toxic_remove"]
    link: Link
    name: str | None = Field(default=None, description="omit to remove every toxic")
    mark: ClassVar[str] = RECOVERY


class LinkDownAction(ActionBase):
    """Disable the link's proxies: new connections are refused, open ones cut."""

    kind: Literal["link_down"]
    link: Link
    mark: ClassVar[str] = FAULT


class LinkUpAction(ActionBase):
    kind: Literal["link_up"]
    link: Link
    mark: ClassVar[str] = RECOVERY


# --- demo backends (POST /_fault) ------------------------------------------------------
class BackendFaultAction(ActionBase):
    """Make backends slow, failing or hanging through their fault knob."""

    kind: Literal["backend_fault"]
    target: Target = Field(description="a service (orders), ZONE/SERVICE or a backend name")
    error_rate: Fraction = 0.0
    error_status: int = Field(default=503, ge=400, le=599)
    latency_ms: float = Field(default=0.0, ge=0, le=600_000)
    hang: bool = False
    include_health: bool = False
    mark: ClassVar[str] = FAULT

    @model_validator(mode="after")
    def _does_something(self) -> BackendFaultAction:
        if not (self.error_rate or self.latency_ms or self.hang):
            raise ValueError(
                "set error_rate, latency_ms or hang (use backend_fault_clear to clear)"
            )
        return self


class BackendFaultClearAction(ActionBase):
    kind: Literal["backend_fault_clear"]
    target: Target
    mark: ClassVar[str] = RECOVERY


# --- other ------------------------------------------------------------------------------
class WaitAction(ActionBase):
    kind: Literal["wait"]
    seconds: PositiveDuration


class HttpAction(ActionBase):
    """Send one HTTP request (an admin endpoint, a config change) and check the status."""

    kind: Literal["http"]
    url: Url
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204], min_length=1)
    timeout_s: PositiveDuration = 5.0


Action = Annotated[
    KillAction
    | PauseAction
    | ResumeAction
    | StartAction
    | StopAction
    | DrainAction
    | RestartAction
    | RollingRestartAction
    | EtcdKillLeaderAction
    | EtcdStopAction
    | EtcdStartAction
    | ToxicAddAction
    | ToxicRemoveAction
    | LinkDownAction
    | LinkUpAction
    | BackendFaultAction
    | BackendFaultClearAction
    | WaitAction
    | HttpAction,
    Field(discriminator="kind"),
]

PROCESS_KINDS = frozenset({"kill", "pause", "resume", "start", "stop", "drain", "restart"})
