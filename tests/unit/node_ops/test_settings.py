"""Command-line overrides of the node settings, admin token rules, OTLP URLs, JSON logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from zonegate.cli.main import build_parser
from zonegate.cli.node_cmd import node_settings
from zonegate.config.node import NodeSettings
from zonegate.errors import ConfigError
from zonegate.node.context import RequestContext
from zonegate.node.ops.admin import check_binding, is_loopback, load_admin_token
from zonegate.node.ops.errors import AdminConfigError
from zonegate.node.ops.logs import JsonFormatter, current_request
from zonegate.node.ops.otel import otlp_traces_url


def parse(*flags: str):
    return build_parser().parse_args(["node", "-c", "x.yaml", *flags])


def test_flags_override_config_settings() -> None:
    base = NodeSettings.model_validate({"admin": {"port": 7000}, "drain": {"grace_s": 3}})
    settings = node_settings(
        base,
        parse(
            "--admin",
            "127.0.0.2:9100",
            "--drain-grace",
            "5",
            "--drain-timeout",
            "9",
            "--access-log",
            "-",
            "--otlp-endpoint",
            "http://127.0.0.1:4318",
            "--trace-sample-ratio",
            "0.5",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ),
    )
    assert (settings.admin.host, settings.admin.port) == ("127.0.0.2", 9100)
    assert settings.drain.grace_s == 5 and settings.drain.timeout_s == 9
    assert settings.access_log.path == "-"
    assert settings.tracing.otlp_endpoint == "http://127.0.0.1:4318"
    assert settings.tracing.sample_ratio == 0.5
    assert settings.listener.tls is not None
    assert settings.listener.tls.cert_file == "c.pem"


def test_no_flags_keep_the_config() -> None:
    base = NodeSettings.model_validate({"admin": {"port": 7000}, "drain": {"grace_s": 3}})
    assert node_settings(base, parse()) == base


def test_admin_off_and_worker_offsets() -> None:
    assert not node_settings(NodeSettings(), parse("--admin", "off")).admin.enabled
    worker = parse("--worker-index", "2")
    assert node_settings(NodeSettings(), worker).admin.port == 9903


def test_bad_combinations_are_reported() -> None:
    with pytest.raises(ConfigError, match="go together"):
        node_settings(NodeSettings(), parse("--tls-cert", "c.pem"))
    with pytest.raises(ConfigError, match="otlp_endpoint"):
        node_settings(NodeSettings(), parse("--otlp-endpoint", "collector:4318"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.3.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("admin.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_tokens(tmp_path: Path) -> None:
    assert load_admin_token(None, {}) is None
    assert load_admin_token(None, {"ZONEGATE_ADMIN_TOKEN": "x" * 16}) == "x" * 16
    token_file = tmp_path / "token"
    token_file.write_text("y" * 20 + "\n")
    assert load_admin_token(str(token_file), {"ZONEGATE_ADMIN_TOKEN": "z" * 16}) == "y" * 20
    with pytest.raises(AdminConfigError, match="cannot read"):
        load_admin_token(str(tmp_path / "missing"), {})
    with pytest.raises(AdminConfigError, match="fewer than 16"):
        load_admin_token(None, {"ZONEGATE_ADMIN_TOKEN": "short"})
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", "t" * 16)
    with pytest.raises(AdminConfigError, match="reachable from other hosts"):
        check_binding("0.0.0.0", None)


def test_otlp_urls() -> None:
    assert otlp_traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert otlp_traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert otlp_traces_url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"
    with pytest.raises(ValueError, match="http"):
        otlp_traces_url("c:4318")


def test_json_log_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter({"node": "n1", "zone": "za"}))
    log = logging.getLogger("zonegate.test.json")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.warning("upstream_host_ejected", extra={"cluster": "app", "host": "h:1"})
        ctx = RequestContext("rid-9")
        ctx.trace_id, ctx.route = "ab" * 16, "orders"
        token = current_request.set(ctx)
        try:
            log.info("registered key=%s lease=%x", "/k", 255)
        finally:
            current_request.reset(token)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("request_failed")
    finally:
        log.removeHandler(handler)
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "upstream_host_ejected" and first["level"] == "warning"
    assert (first["cluster"], first["host"], first["node"], first["zone"]) == (
        "app",
        "h:1",
        "n1",
        "za",
    )
    assert "request_id" not in first
    assert second["event"] == "registered"
    assert second["message"] == "registered key=/k lease=ff"
    assert (second["request_id"], second["route"]) == ("rid-9", "orders")
    assert second["trace_id"] == "ab" * 16
    assert third["event"] == "request_failed"
    assert "RuntimeError: boom" in third["exception"]
    assert first["time"].endswith("Z")
