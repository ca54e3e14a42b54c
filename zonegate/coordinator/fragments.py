"""Team route fragments in etcd: each team's own key, checked before every write.

``/zonegate/<cluster>/fragments/<team>`` holds a JSON envelope ``{"fragment": {...},
"applied_by", "applied_at", "message"}``. :meth:`FragmentStore.plan` computes what
an apply would do (the diff against the stored fragment, and every reason to
refuse it); :meth:`FragmentStore.apply` writes only a fragment that

- validates, stays inside the team's delegation and merges with the platform
  config (see :mod:`zonegate.coordinator.fragment_merge`),
- does not knock another team's currently good fragment out of the merge,

in one transaction that also compares the fragment key's and the platform
config's revisions, so neither can change unseen in between.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from zonegate.config.teams import TeamFragment
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import ConfigStore, StoredConfig, default_author
from zonegate.coordinator.errors import CoordinatorError
from zonegate.coordinator.etcd_types import Compare, Get, KeyValue, Put
from zonegate.coordinator.fragment_diff import Change, diff_fragments
from zonegate.coordinator.fragment_merge import (
    FragmentInput,
    MergeResult,
    merge,
    parse_fragment,
)
from zonegate.coordinator.keys import Keys, segment
from zonegate.errors import ConfigError


class FragmentRefusedError(CoordinatorError):
    """A fragment that would not be merged (invalid, outside its delegation, conflicting)."""

    status = 422
    code = "fragment_refused"

    def __init__(self, team: str, problems: list[str]) -> None:
        super().__init__(f"the fragment of team {team!r} was refused: " + "; ".join(problems))
        self.team = team
        self.problems = problems


class FragmentConflictError(CoordinatorError):
    """The fragment or the platform config changed between the check and the write."""

    status = 409
    code = "fragment_conflict"


class NoPlatformConfigError(CoordinatorError):
    """Fragments need the platform config (with its team delegations) stored first."""

    status = 404
    code = "no_platform_config"


def fragments_prefix(keys: Keys) -> str:
    return f"{keys.root}fragments/"


def fragment_key(keys: Keys, team: str) -> str:
    return f"{fragments_prefix(keys)}{segment(team, 'team')}"


@dataclass(frozen=True, slots=True)
class StoredFragment:
    team: str
    revision: int
    document: Any
    applied_by: str = ""
    applied_at: float = 0.0
    message: str = ""

    def input(self) -> FragmentInput:
        return FragmentInput(self.team, self.document, self.revision)


def decode_fragment(keys: Keys, kv: KeyValue) -> StoredFragment:
    """A stored fragment; garbage becomes a document that fails validation (dropped)."""
    team = kv.key.rsplit("/", 1)[-1]
    try:
        value = json.loads(kv.value)
    except ValueError:
        return StoredFragment(team, kv.mod_revision, None, message="(not JSON)")
    if isinstance(value, dict) and isinstance(value.get("fragment"), dict):
        return StoredFragment(
            team,
            kv.mod_revision,
            value["fragment"],
            str(value.get("applied_by", "")),
            float(value.get("applied_at") or 0.0),
            str(value.get("message", "")),
        )
    return StoredFragment(team, kv.mod_revision, value)


def encode_fragment(fragment: TeamFragment, applied_by: str, message: str, now: float) -> bytes:
    document = fragment.model_dump(mode="json", exclude_defaults=True)
    envelope = {
        "fragment": document,
        "applied_by": applied_by,
        "applied_at": now,
        "message": message,
    }
    return json.dumps(envelope, sort_keys=True).encode()


@dataclass
class FragmentPlan:
    """What applying a fragment would do."""

    team: str
    platform: StoredConfig
    stored: StoredFragment | None
    fragment: TeamFragment | None
    changes: list[Change] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    merged: MergeResult | None = None

    @property
    def refused(self) -> bool:
        return bool(self.problems)


class FragmentStore:
    """Every team's fragment of one cluster."""

    def __init__(self, client: EtcdClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def platform(self) -> StoredConfig:
        stored = await ConfigStore(self.client, self.keys).current()
        if stored is None:
            raise NoPlatformConfigError(
                f"no platform config is stored for cluster {self.keys.cluster!r}: the "
                "platform team applies it first (zonegate config apply)"
            )
        return stored

    async def all(self) -> dict[str, StoredFragment]:
        found = await self.client.get_prefix(fragments_prefix(self.keys))
        fragments = [decode_fragment(self.keys, kv) for kv in found.kvs]
        return {f.team: f for f in fragments}

    async def get(self, team: str) -> StoredFragment | None:
        kv = await self.client.get(fragment_key(self.keys, team))
        return decode_fragment(self.keys, kv) if kv is not None else None

    async def plan(self, team: str, document: Any, source: str = "") -> FragmentPlan:
        """Diff and check ``document`` as team ``team``'s fragment (nothing is written)."""
        fragment_key(self.keys, team)  # a usable team name, or ValueError
        platform = await self.platform()
        current = await self.all()
        stored = current.get(team)
        new = FragmentInput(team, document, source=source)
        plan = FragmentPlan(team, platform, stored, None)
        try:
            plan.fragment = parse_fragment(new)
        except ConfigError as exc:
            plan.problems = exc.problems
            return plan
        old_fragment = _parse_quietly(stored)
        plan.changes = diff_fragments(old_fragment, plan.fragment)
        others = [f.input() for t, f in current.items() if t != team]
        try:
            before = merge(platform.document, [f.input() for f in current.values()])
            after = merge(platform.document, [*others, new])
        except ConfigError as exc:
            plan.problems = [f"the platform config is invalid: {p}" for p in exc.problems]
            return plan
        plan.merged = after
        plan.problems = list(after.dropped.get(team, []))
        for other, problems in after.dropped.items():
            if other != team and other not in before.dropped:
                plan.problems += [
                    f"would knock out team {other!r}'s fragment: {p}" for p in problems
                ]
        return plan

    async def apply(
        self,
        team: str,
        document: Any,
        *,
        source: str = "",
        applied_by: str | None = None,
        message: str = "",
        expect_revision: int | None = None,
    ) -> tuple[StoredFragment, bool, FragmentPlan]:
        """Check, then write the fragment; ``(stored, changed, plan)``."""
        plan = await self.plan(team, document, source)
        if plan.refused or plan.fragment is None:
            raise FragmentRefusedError(team, plan.problems)
        base = plan.stored.revision if plan.stored is not None else 0
        if expect_revision is not None and expect_revision != base:
            raise FragmentConflictError(
                f"conflict: team {team!r}'s fragment is at revision {base}, not "
                f"{expect_revision}; review it (zonegate routes diff) and apply again"
            )
        if plan.stored is not None and not plan.changes:
            return plan.stored, False, plan
        author = applied_by or default_author()
        now = time.time()
        key = fragment_key(self.keys, team)
        value = encode_fragment(plan.fragment, author, message, now)
        result = await self.client.txn(
            [
                Compare(key, "mod", "==", base),
                Compare(self.keys.config, "mod", "==", plan.platform.revision),
            ],
            [Put(key, value)],
            [Get(key)],
        )
        if not result.succeeded:
            raise FragmentConflictError(
                f"conflict: team {team!r}'s fragment or the platform config changed while "
                "applying; run zonegate routes diff again and re-apply"
            )
        document_stored = json.loads(value)["fragment"]
        stored = StoredFragment(team, result.revision, document_stored, author, now, message)
        return stored, True, plan

    async def delete(self, team: str) -> bool:
        """Remove a team's fragment (its routes leave the merged config); False if none."""
        return await self.client.delete(fragment_key(self.keys, team)) > 0


def _parse_quietly(stored: StoredFragment | None) -> TeamFragment | None:
    if stored is None:
        return None
    try:
        return parse_fragment(stored.input())
    except ConfigError:
        return None
