"""The built-in drills: experiment files shipped in this package (``zonegate drill list``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from zonegate.chaos.errors import UnknownDrillError
from zonegate.chaos.spec.experiment import Experiment
from zonegate.chaos.spec.loader import load_experiment, parse_experiment_text

SUFFIX = ".yaml"


@dataclass(frozen=True)
class Drill:
    name: str
    source: str
    experiment: Experiment


def builtin_names() -> list[str]:
    folder = resources.files(__name__)
    return sorted(p.name.removesuffix(SUFFIX) for p in folder.iterdir() if p.name.endswith(SUFFIX))


def builtin(name: str) -> Drill:
    if name not in builtin_names():
        raise UnknownDrillError(
            f"no built-in drill {name!r} (built in: {', '.join(builtin_names())}); "
            "or give the path of an experiment file"
        )
    text = resources.files(__name__).joinpath(name + SUFFIX).read_text("utf-8")
    return Drill(name, f"builtin:{name}", parse_experiment_text(text, f"built-in drill {name}"))


def find_drill(name_or_path: str) -> Drill:
    """A built-in drill by name, or an experiment file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        return Drill(path.stem, str(path), load_experiment(path))
    return builtin(name_or_path)


def all_builtin() -> list[Drill]:
    return [builtin(name) for name in builtin_names()]
