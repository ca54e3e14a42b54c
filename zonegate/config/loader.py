"""Load a cluster config from YAML or JSON and report every problem with its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from zonegate.config.model import ClusterConfig, CrossReferenceErrors, reference_problems
from zonegate.errors import ConfigError


def format_loc(loc: tuple[str | int, ...]) -> str:
    """``('routes', 2, 'upstream')`` -> ``routes[2].upstream``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def problems_of(error: ValidationError) -> list[str]:
    """Every problem in a pydantic error as ``path: message`` lines."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, CrossReferenceErrors):
            problems += [f"{format_loc(loc + p.loc)}: {p.message}" for p in cause.problems]
            continue
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{format_loc(loc)}: {message}")
    return problems


def parse_config(data: Any) -> ClusterConfig:
    """Validate an already-parsed document; raises :class:`ConfigError` with all problems."""
    if not isinstance(data, dict):
        raise ConfigError([f"(top level): expected a mapping, got {type(data).__name__}"])
    try:
        return ClusterConfig.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
        problems += [
            line
            for p in reference_problems(data)
            if (line := f"{format_loc(p.loc)}: {p.message}") not in problems
        ]
        raise ConfigError(problems) from None


def parse_config_text(text: str, source: str = "<config>") -> ClusterConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{source}: not valid YAML{where}: {problem}"]) from None
    return parse_config(data)


def load_config(path: str | Path) -> ClusterConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    return parse_config_text(text, str(path))


def config_schema() -> dict[str, Any]:
    """JSON Schema of the cluster config, for editors."""
    schema = ClusterConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "zonegate cluster config"
    return schema


def config_to_json(config: ClusterConfig) -> str:
    return json.dumps(config.model_dump(mode="json", exclude_defaults=False), sort_keys=True)
