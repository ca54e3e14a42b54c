"""Argument types shared by the subcommands, with messages a person can act on."""

from __future__ import annotations

import argparse


def parse_hostport(value: str) -> tuple[str, int]:
    """``127.0.0.1:8080`` -> ``("127.0.0.1", 8080)``; ``:8080`` listens on all addresses."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:8080), got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)
