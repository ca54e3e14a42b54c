"""Experiment files: typed models (pydantic, frozen, ``extra=forbid``) and their loader."""

from zonegate.chaos.spec.experiment import Experiment, ProbeStep, ReportSettings, Step
from zonegate.chaos.spec.loader import (
    experiment_schema,
    load_experiment,
    parse_experiment,
    parse_experiment_text,
    render,
)

__all__ = [
    "Experiment",
    "ProbeStep",
    "ReportSettings",
    "Step",
    "experiment_schema",
    "load_experiment",
    "parse_experiment",
    "parse_experiment_text",
    "render",
]
