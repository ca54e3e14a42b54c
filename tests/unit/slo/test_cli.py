"""`zonegate slo` commands: validate, rules, status (on a store), clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zonegate.cli.main import main

GOOD = """
version: 1
slos:
  - {name: api, service: gw, objective: 0.999, sli: {kind: availability}}
"""


def test_validate_and_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(GOOD)
    assert main(["slo", "validate", "-f", str(spec)]) == 0
    assert "api: valid (availability on node, objective 99.9% over 30d" in capsys.readouterr().out
    out = tmp_path / "deep" / "rules.yml"
    assert main(["slo", "rules", "-f", str(spec), "-o", str(out)]) == 0
    assert "slo:sli_error:ratio_rate5m" in out.read_text()


def test_invalid_file_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(GOOD.replace("0.999", "99.9").replace("availability}", "availability, x: 1}"))
    assert main(["slo", "rules", "-f", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error: invalid SLO specs:" in err
    assert "slos[0].objective: objective is a ratio" in err
    assert "slos[0].sli.availability.x: unknown field" in err
    assert main(["slo", "validate", "-f", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_status_json_on_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "slos.yaml"
    spec.write_text(GOOD)
    db = tmp_path / "slo.db"
    assert main(["slo", "status", "-f", str(spec), "--db", str(db), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["slos"]
    assert row["name"] == "api" and row["health"] == "no_data"
    assert row["budget"]["total_minutes"] == pytest.approx(43.2)
    assert main(["slo", "status", "-f", str(spec), "--db", str(db)]) == 0
    assert "no_data" in capsys.readouterr().out


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "zonegate SLO file"
