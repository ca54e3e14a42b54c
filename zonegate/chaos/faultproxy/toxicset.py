"""The toxics configured on one proxy: ordered per stream, names unique across streams."""

from __future__ import annotations

from collections.abc import Iterator

from zonegate.chaos.faultproxy.errors import MSG_TOXIC_EXISTS, Conflict, toxic_not_found
from zonegate.chaos.faultproxy.models import Stream, ToxicSpec


class ToxicSet:
    """Toxics in chain order; a new one goes to the end of its stream's chain (as Toxiproxy)."""

    def __init__(self) -> None:
        self._chains: dict[Stream, list[ToxicSpec]] = {s: [] for s in Stream}

    def __contains__(self, name: object) -> bool:
        return any(t.name == name for t in self)

    def __iter__(self) -> Iterator[ToxicSpec]:
        # Toxiproxy lists the upstream chain first, then downstream.
        for stream in (Stream.UPSTREAM, Stream.DOWNSTREAM):
            yield from self._chains[stream]

    def __len__(self) -> int:
        return sum(len(chain) for chain in self._chains.values())

    def chain(self, stream: Stream) -> tuple[ToxicSpec, ...]:
        return tuple(self._chains[stream])

    def get(self, name: str) -> ToxicSpec:
        for toxic in self:
            if toxic.name == name:
                return toxic
        raise toxic_not_found()

    def add(self, toxic: ToxicSpec) -> None:
        if toxic.name in self:
            raise Conflict(MSG_TOXIC_EXISTS)
        self._chains[toxic.stream].append(toxic)

    def replace(self, toxic: ToxicSpec) -> ToxicSpec:
        """Swap in an updated toxic of the same name and stream; returns the old one."""
        chain = self._chains[toxic.stream]
        for index, current in enumerate(chain):
            if current.name == toxic.name:
                chain[index] = toxic
                return current
        raise toxic_not_found()

    def remove(self, name: str) -> ToxicSpec:
        for chain in self._chains.values():
            for index, toxic in enumerate(chain):
                if toxic.name == name:
                    return chain.pop(index)
        raise toxic_not_found()

    def clear(self) -> list[ToxicSpec]:
        removed = list(self)
        for chain in self._chains.values():
            chain.clear()
        return removed

    def to_json(self) -> list[dict[str, object]]:
        return [toxic.to_json() for toxic in self]
