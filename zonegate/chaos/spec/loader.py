"""Read experiment files, report every problem with its step and field, fill in parameters.

Problems read like ``method[1] (kill the zone): action.kill.target: required
field is missing``: the list and index, the step's name, then the field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zonegate.chaos.errors import ExperimentError
from zonegate.chaos.spec.experiment import (
    BUILTIN_VALUES,
    Experiment,
    placeholders,
    substitute,
)
from zonegate.config.loader import format_loc

_STEP_LISTS = ("method", "rollbacks")
_INDEXED = re.compile(r"^(method|rollbacks|guards|steady_state\.probes)\[(\d+)\]")


def _step_label(data: Any, section: tuple[str, ...], index: int) -> str:
    node: Any = data
    for key in section:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, list) or index >= len(node) or not isinstance(node[index], dict):
        return ""
    item = node[index]
    name = item.get("name")
    if isinstance(name, str):
        return name
    for inner in ("action", "probe"):
        if isinstance(item.get(inner), dict) and isinstance(item[inner].get("kind"), str):
            return str(item[inner]["kind"])
    kind = item.get("kind")
    return kind if isinstance(kind, str) else ""


def _split(loc: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], tuple[str | int, ...]]:
    """``('method', 2, 'action', 'target')`` -> ``(('method', 2), ('action', 'target'))``."""
    if len(loc) >= 2 and loc[0] in (*_STEP_LISTS, "guards") and isinstance(loc[1], int):
        return loc[:2], loc[2:]
    if len(loc) >= 3 and loc[:2] == ("steady_state", "probes") and isinstance(loc[2], int):
        return loc[:3], loc[3:]
    return (), loc


def describe(data: Any, loc: tuple[str | int, ...], message: str) -> str:
    """One problem as ``<step>: <field>: <message>``."""
    head, rest = _split(loc)
    if not head:
        return f"{format_loc(loc)}: {message}" if loc else message
    index = head[-1]
    assert isinstance(index, int)
    label = _step_label(data, tuple(str(p) for p in head[:-1]), index)
    where = format_loc(head) + (f" ({label})" if label else "")
    return f"{where}: {format_loc(rest)}: {message}" if rest else f"{where}: {message}"


def problems_of(error: ValidationError, data: Any) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            expected = (item.get("ctx") or {}).get("expected_tags", "")
            message = f"unknown kind {item['input'].get('kind')!r} (known: {expected})"
        problems.append(describe(data, tuple(item["loc"]), message))
    return problems


def _placeholder_problems(experiment: Experiment, data: Any) -> list[str]:
    known = set(experiment.parameters) | set(BUILTIN_VALUES)
    problems = []
    dumped = experiment.model_dump(mode="json", exclude_defaults=True)
    for path, name in placeholders(dumped):
        if name in known or path.startswith("parameters."):
            continue
        match = _INDEXED.match(path)
        if match:
            section = tuple(match.group(1).split("."))
            index = int(match.group(2))
            label = _step_label(data, section, index)
            head = match.group(0) + (f" ({label})" if label else "")
            where = head + ": " + path[len(match.group(0)) :].lstrip(".")
        else:
            where = path
        declared = ", ".join(sorted(experiment.parameters)) or "none"
        problems.append(
            f"{where}: unknown parameter ${{{name}}} (declared: {declared}; "
            f"built in: {', '.join(BUILTIN_VALUES)})"
        )
    return problems


def parse_experiment(data: Any, source: str = "<experiment>") -> Experiment:
    """Validate a parsed document; :class:`ExperimentError` lists every problem."""
    if not isinstance(data, dict):
        raise ExperimentError([f"{source}: expected a mapping with title:, method: ..."])
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError(problems_of(exc, data)) from None
    problems = _placeholder_problems(experiment, data)
    if problems:
        raise ExperimentError(problems)
    return experiment


def parse_experiment_text(text: str, source: str = "<experiment>") -> Experiment:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ExperimentError([f"{source}: not valid YAML{where}: {problem}"]) from None
    return parse_experiment(data, source)


def load_experiment(path: str | Path) -> Experiment:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ExperimentError([f"{path}: not UTF-8 text"]) from None
    return parse_experiment_text(text, str(path))


def render(experiment: Experiment, values: dict[str, str]) -> Experiment:
    """The experiment with every ``${name}`` filled in from ``values`` (validated again)."""
    data = experiment.model_dump(mode="json")  # defaults too: they hold ${glb} and such
    parameters = data.pop("parameters", {})
    rendered = substitute(data, values)
    missing = sorted({name for _, name in placeholders(rendered)})
    if missing:
        raise ExperimentError([f"no value for ${{{name}}}" for name in missing])
    rendered["parameters"] = parameters
    try:
        return Experiment.model_validate(rendered)
    except ValidationError as exc:
        raise ExperimentError(problems_of(exc, rendered)) from None


def experiment_schema() -> dict[str, Any]:
    """JSON Schema of experiment files, for editors."""
    schema = Experiment.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "zonegate drill experiment"
    return schema


def schema_json() -> str:
    return json.dumps(experiment_schema(), indent=2, sort_keys=True)
