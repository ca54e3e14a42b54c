"""Typed toxics and proxies, and the parsing of Toxiproxy JSON into them.

The JSON shapes are Toxiproxy 2.x's: a proxy is ``{name, listen, upstream,
enabled}`` (plus ``toxics`` when read back), a toxic is ``{name, type, stream,
toxicity, attributes}``. Defaults are Toxiproxy's: ``stream`` downstream,
``toxicity`` 1.0, ``name`` ``<type>_<stream>``, ``enabled`` true, attributes
missing from the body are 0. Deliberate differences, all in the direction of
catching mistakes: unknown keys and out-of-range values are refused with 400
instead of being silently ignored or misbehaving (a slicer with
``average_size`` 0 hangs Toxiproxy; here it is a 400).
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zonegate.chaos.faultproxy.addresses import parse_host_port
from zonegate.chaos.faultproxy.errors import (
    MSG_INVALID_STREAM,
    MSG_INVALID_TYPE,
    MSG_TOXIC_EXISTS,
    BadRequest,
    Conflict,
    bad_body,
    missing_field,
)

MAX_MILLIS: Final = 86_400_000  # one day: longer waits are a typo, and overflow timers
MAX_COUNT: Final = 2**62


class Stream(enum.StrEnum):
    """Which direction a toxic acts on: ``upstream`` is client -> server."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


ToxicType = Literal[
    "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"
]
TOXIC_TYPES: Final[tuple[str, ...]] = get_args(ToxicType)

Millis = Annotated[int, Field(ge=0, le=MAX_MILLIS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class ToxicAttributes(BaseModel):
    """Base of every toxic's attributes: integers only, unknown names refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class LatencyAttributes(ToxicAttributes):
    latency: Millis = 0
    jitter: Millis = 0


class BandwidthAttributes(ToxicAttributes):
    rate: Annotated[int, Field(ge=0, le=MAX_COUNT, description="KB/s; 0 lets nothing through")] = 0


class SlowCloseAttributes(ToxicAttributes):
    delay: Millis = 0


class TimeoutAttributes(ToxicAttributes):
    timeout: Annotated[int, Field(ge=0, le=MAX_MILLIS, description="ms; 0 never closes")] = 0


class ResetPeerAttributes(ToxicAttributes):
    timeout: Millis = 0


class SlicerAttributes(ToxicAttributes):
    average_size: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 0
    size_variation: Count = 0
    delay: Annotated[int, Field(ge=0, le=MAX_MILLIS * 1000, description="microseconds")] = 0

    @model_validator(mode="after")
    def _variation_below_average(self) -> SlicerAttributes:
        if self.size_variation >= self.average_size:
            raise ValueError(
                f"size_variation ({self.size_variation}) must be smaller than "
                f"average_size ({self.average_size})"
            )
        return self


class LimitDataAttributes(ToxicAttributes):
    bytes: Count = 0


ATTRIBUTE_MODELS: Final[Mapping[str, type[ToxicAttributes]]] = {
    "latency": LatencyAttributes,
    "bandwidth": BandwidthAttributes,
    "slow_close": SlowCloseAttributes,
    "timeout": TimeoutAttributes,
    "reset_peer": ResetPeerAttributes,
    "slicer": SlicerAttributes,
    "limit_data": LimitDataAttributes,
}


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """One toxic as configured on a proxy (not yet bound to a connection)."""

    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: ToxicAttributes

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes.model_dump(),
            "name": self.name,
            "type": self.type,
            "stream": str(self.stream),
            "toxicity": self.toxicity,
        }

    @classmethod
    def build(
        cls,
        type: str,
        attributes: Mapping[str, object] | None = None,
        *,
        stream: Stream | str = Stream.DOWNSTREAM,
        name: str | None = None,
        toxicity: float = 1.0,
    ) -> ToxicSpec:
        """Programmatic constructor with the same validation as the HTTP API."""
        payload: dict[str, object] = {
            "type": type,
            "stream": str(stream),
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            payload["name"] = name
        return parse_toxic(payload)


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A proxy as configured; ``listen`` may have port 0 until it is bound."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


# --- parsing --------------------------------------------------------------

_TOXIC_KEYS: Final = frozenset({"name", "type", "stream", "toxicity", "attributes"})
_PROXY_KEYS: Final = frozenset({"name", "listen", "upstream", "enabled", "toxics"})


def _require_object(payload: object, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise bad_body(f"expected a JSON object for {what}, got {_json_type(payload)}")
    return payload


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _reject_unknown(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_body(
            f"unknown field(s) {', '.join(map(repr, unknown))} in {what} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _string_field(body: Mapping[str, Any], field: str, default: str | None = None) -> str | None:
    value = body.get(field, default)
    if value is not None and not isinstance(value, str):
        raise bad_body(f"{field} must be a string, got {_json_type(value)}")
    return value


def parse_stream(value: object) -> Stream:
    if isinstance(value, str):
        try:
            return Stream(value.lower())
        except ValueError:
            pass
    raise BadRequest(f"{MSG_INVALID_STREAM} (got {value!r})")


def parse_toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_body(f"toxicity must be a number between 0 and 1, got {_json_type(value)}")
    if not 0.0 <= float(value) <= 1.0:
        raise bad_body(f"toxicity must be between 0 and 1, got {value}")
    return float(value)


def parse_attributes(toxic_type: str, raw: object) -> ToxicAttributes:
    """Validate a toxic's attributes; the message names each bad attribute."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_body(f"attributes must be a JSON object, got {_json_type(raw)}")
    model = ATTRIBUTE_MODELS[toxic_type]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        allowed = ", ".join(model.model_fields)
        problems = []
        for item in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in item["loc"])
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = f"unknown attribute (allowed: {allowed})"
            problems.append(f"{loc}: {message}" if loc else message)
        raise bad_body(
            f"invalid attributes for {toxic_type} toxic: {'; '.join(problems)}"
        ) from None


def parse_toxic(payload: object, taken_names: Container[str] = ()) -> ToxicSpec:
    """A new toxic from a ``POST /proxies/{proxy}/toxics`` body.

    Checks in Toxiproxy's order: body, stream, type, duplicate name (409),
    attributes, so the status codes match.
    """
    body = _require_object(payload, "a toxic")
    _reject_unknown(body, _TOXIC_KEYS, "a toxic")
    stream = parse_stream(body.get("stream", "downstream"))
    toxic_type = _string_field(body, "type")
    if toxic_type is None or toxic_type not in ATTRIBUTE_MODELS:
        raise BadRequest(
            f"{MSG_INVALID_TYPE}: {toxic_type!r} (known: {', '.join(sorted(TOXIC_TYPES))})"
        )
    name = _string_field(body, "name") or f"{toxic_type}_{stream}"
    if "/" in name:
        raise bad_body(f"toxic name {name!r} must not contain '/'")
    if name in taken_names:
        raise Conflict(MSG_TOXIC_EXISTS)
    toxicity = parse_toxicity(body.get("toxicity", 1.0))
    attributes = parse_attributes(toxic_type, body.get("attributes"))
    return ToxicSpec(name, toxic_type, stream, toxicity, attributes)


def parse_toxic_update(current: ToxicSpec, payload: object) -> ToxicSpec:
    """Apply a ``POST/PATCH /proxies/{proxy}/toxics/{toxic}`` body.

    As in Toxiproxy, given attributes are merged over the current ones and
    ``toxicity`` is optional. Name, type and stream cannot change (delete and
    re-create the toxic); sending them unchanged is fine.
    """
    body = _require_object(payload, "a toxic update")
    _reject_unknown(body, _TOXIC_KEYS, "a toxic update")
    for field, now in (("name", current.name), ("type", current.type)):
        if field in body and body[field] != now:
            raise bad_body(f"a toxic's {field} cannot change ({now!r}); delete and re-create it")
    if "stream" in body and parse_stream(body["stream"]) != current.stream:
        raise bad_body("a toxic's stream cannot change; delete and re-create it")
    toxicity = parse_toxicity(body["toxicity"]) if "toxicity" in body else current.toxicity
    raw = body.get("attributes") or {}
    if not isinstance(raw, dict):
        raise bad_body(f"attributes must be a JSON object, got {_json_type(raw)}")
    merged = {**current.attributes.model_dump(), **raw}
    attributes = parse_attributes(current.type, merged)
    return replace(current, toxicity=toxicity, attributes=attributes)


def parse_proxy(payload: object, *, where: str = "") -> ProxySpec:
    """A new proxy from a ``POST /proxies`` body (or one entry of ``/populate``)."""
    body = _require_object(payload, "a proxy")
    _reject_unknown(body, _PROXY_KEYS, "a proxy")
    name = _string_field(body, "name")
    if not name:
        raise missing_field(f"name{where}")
    if "/" in name:
        raise bad_body(f"proxy name {name!r} must not contain '/'")
    upstream = _string_field(body, "upstream")
    if not upstream:
        raise missing_field(f"upstream{where}")
    listen = _string_field(body, "listen") or ""
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise bad_body(f"enabled must be true or false, got {_json_type(enabled)}")
    listen_at = parse_host_port(listen or ":0", field=f"listen{where}", listen=True)
    parse_host_port(upstream, field=f"upstream{where}", listen=False)
    return ProxySpec(name, str(listen_at), upstream, enabled)


def parse_proxy_update(current: ProxySpec, payload: object) -> ProxySpec:
    """Apply a ``POST/PATCH /proxies/{proxy}`` body: omitted fields keep their value."""
    body = _require_object(payload, "a proxy update")
    _reject_unknown(body, _PROXY_KEYS, "a proxy update")
    name = body.get("name")
    if name not in (None, "", current.name):
        raise bad_body("to change a proxy's name, delete it and create it again")
    merged = {
        "name": current.name,
        "listen": body.get("listen") or current.listen,
        "upstream": body.get("upstream") or current.upstream,
        "enabled": current.enabled if body.get("enabled") is None else body["enabled"],
    }
    return parse_proxy(merged)


def parse_populate(payload: object) -> list[ProxySpec]:
    """A ``/populate`` body (or a ``-config`` file): a JSON array of proxies, all valid or none."""
    if not isinstance(payload, list):
        raise bad_body(f"expected a JSON array of proxies, got {_json_type(payload)}")
    specs: list[ProxySpec] = []
    seen: set[str] = set()
    for index, item in enumerate(payload, start=1):
        spec = parse_proxy(item, where=f" at proxy {index}")
        if spec.name in seen:
            raise bad_body(f"duplicate proxy name {spec.name!r} at proxy {index}")
        seen.add(spec.name)
        specs.append(spec)
    return specs
