"""Load SLOs from YAML: native files, cluster configs with ``slos:``, OpenSLO v1 documents.

Every problem of every file is reported in one :class:`SpecError`, each line
prefixed with its file (and document) and the path inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zonegate.config.loader import problems_of
from zonegate.slo.errors import SpecError
from zonegate.slo.openslo import IGNORED_KINDS, OpenSLOProblem, is_openslo, map_slo
from zonegate.slo.spec import Notifications, SLOFile, SLOSpec

CLUSTER_CONFIG_KEYS = ("clusters", "routes", "node", "cluster")


def _documents(text: str, source: str) -> list[Any]:
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([f"{source}: not valid YAML{where}: {problem}"]) from None
    flat: list[Any] = []
    for doc in docs:
        if isinstance(doc, list) and doc and all(is_openslo(item) for item in doc):
            flat.extend(doc)
        else:
            flat.append(doc)
    return flat


def _native(doc: dict[str, Any], where: str) -> tuple[list[SLOSpec], Notifications | None]:
    if any(key in doc for key in CLUSTER_CONFIG_KEYS):  # a cluster config carrying slos
        doc = {
            "version": doc.get("version"),
            **{k: doc[k] for k in ("slos", "notifications") if k in doc},
        }
    try:
        parsed = SLOFile.model_validate(doc)
    except ValidationError as exc:
        raise SpecError([f"{where}: {p}" for p in problems_of(exc)]) from None
    return parsed.slos, parsed.notifications if "notifications" in doc else None


def _openslo(docs: list[tuple[dict[str, Any], str]]) -> tuple[list[SLOSpec], list[str]]:
    slis: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for doc, _where in docs:
        if doc.get("kind") == "SLI":
            name = (doc.get("metadata") or {}).get("name")
            slis[str(name)] = doc.get("spec") or {}
    out: list[SLOSpec] = []
    for doc, where in docs:
        kind = doc.get("kind")
        if doc.get("apiVersion") != "openslo/v1":
            problems.append(f"{where}: apiVersion {doc.get('apiVersion')!r}: only openslo/v1")
            continue
        if kind in ("SLI", *IGNORED_KINDS):
            continue
        if kind != "SLO":
            problems.append(f"{where}: kind {kind!r} is not supported (only SLO and SLI)")
            continue
        name = (doc.get("metadata") or {}).get("name", "?")
        label = f"{where} (SLO {name})"
        try:
            mapped = map_slo(doc, slis)
        except OpenSLOProblem as exc:
            problems.append(f"{label}: {exc}")
            continue
        try:
            out.append(SLOSpec.model_validate(mapped))
        except ValidationError as exc:
            problems += [f"{label}: mapped field {p}" for p in problems_of(exc)]
    return out, problems


def parse_slo_text(text: str, source: str = "<slo>") -> SLOFile:
    return parse_slo_sources([(text, source)])


def parse_slo_sources(sources: Iterable[tuple[str, str]]) -> SLOFile:
    """Merge every SLO of every source into one :class:`SLOFile`; names must be unique."""
    slos: list[SLOSpec] = []
    notifications = Notifications()
    problems: list[str] = []
    openslo_docs: list[tuple[dict[str, Any], str]] = []
    for text, source in sources:
        try:
            docs = _documents(text, source)
        except SpecError as exc:
            problems += exc.problems
            continue
        for index, doc in enumerate(docs):
            where = source if len(docs) == 1 else f"{source} document {index + 1}"
            if is_openslo(doc):
                openslo_docs.append((doc, where))
            elif isinstance(doc, dict):
                try:
                    found, notes = _native(doc, where)
                except SpecError as exc:
                    problems += exc.problems
                    continue
                slos += found
                notifications = notes or notifications
            else:
                problems.append(
                    f"{where}: expected a mapping with version and slos, or OpenSLO documents"
                )
    mapped, openslo_problems = _openslo(openslo_docs)
    problems += openslo_problems
    slos += mapped
    seen: set[str] = set()
    for slo in slos:
        if slo.name in seen:
            problems.append(f"duplicate SLO name {slo.name!r}")
        seen.add(slo.name)
    if problems:
        raise SpecError(problems)
    return SLOFile(version=1, slos=slos, notifications=notifications)


def load_slo_files(paths: Iterable[str | Path]) -> SLOFile:
    sources: list[tuple[str, str]] = []
    problems: list[str] = []
    for path in map(Path, paths):
        try:
            sources.append((path.read_text(encoding="utf-8"), str(path)))
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
    if problems:
        raise SpecError(problems)
    return parse_slo_sources(sources)


def slo_schema() -> dict[str, Any]:
    """JSON Schema of the native SLO file, for editors."""
    schema = SLOFile.model_json_schema(mode="validation", by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "zonegate SLO file"
    return schema


DEFAULT_SLO_FILE = "slos.yaml"


def builtin_slo_source() -> tuple[str, str]:
    """The SLOs shipped with zonegate (edge availability and latency, node availability)."""
    text = resources.files("zonegate.slo").joinpath("default_slos.yaml").read_text("utf-8")
    return text, "zonegate/slo/default_slos.yaml"


def default_slo_sources() -> list[tuple[str, str]]:
    """``./slos.yaml`` when it exists, else :func:`builtin_slo_source`."""
    local = Path(DEFAULT_SLO_FILE)
    if local.is_file():
        return [(local.read_text(encoding="utf-8"), str(local))]
    return [builtin_slo_source()]


def load_slos(paths: Iterable[str | Path] | None) -> SLOFile:
    """The given files, or :func:`default_slo_sources` when none are given."""
    chosen = list(paths or [])
    return load_slo_files(chosen) if chosen else parse_slo_sources(default_slo_sources())
