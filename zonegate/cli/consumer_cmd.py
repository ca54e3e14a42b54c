"""``zonegate consumer add NAME``: make an API key; print it once, and the config to add."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from zonegate.node.policy.api_keys import generate_api_key, hash_api_key

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "consumer", help="manage API consumers and their keys"
    )
    sub = parser.add_subparsers(dest="consumer_command", metavar="ACTION", required=True)
    add = sub.add_parser(
        "add",
        help="create an API key: print it once, and the config entry with its salted hash",
    )
    add.add_argument("name", help="consumer name (lower-case letters, digits, . _ -)")
    add.add_argument(
        "--group", action="append", default=[], metavar="GROUP", help="a group (repeatable)"
    )
    add.add_argument(
        "--hash",
        choices=["hmac-sha256", "scrypt"],
        default="hmac-sha256",
        help="how the key is stored: hmac-sha256 (default; keys are 256-bit random, checked "
        "inline) or scrypt (a KDF; checked in a worker thread, keeps requests off the fast path)",
    )
    add.set_defaults(handler=cmd_add)
    return parser


def _check_name(kind: str, value: str) -> str | None:
    if NAME_RE.match(value):
        return None
    return (
        f"error: invalid {kind} {value!r}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
        "starting and ending with a letter or digit"
    )


def config_entry(name: str, groups: list[str], key_id: str, key_hash: str) -> str:
    """The YAML to add under ``consumers:``."""
    lines = [f"  - name: {name}"]
    if groups:
        lines.append(f"    groups: [{', '.join(groups)}]")
    lines += ["    api_keys:", f"      - id: {key_id}", f'        hash: "{key_hash}"']
    return "\n".join(lines)


def cmd_add(args: argparse.Namespace) -> int:
    for kind, value in [("consumer name", args.name), *(("group", g) for g in args.group)]:
        problem = _check_name(kind, value)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    key_id, key = generate_api_key()
    key_hash = hash_api_key(key, scheme=args.hash)
    print(f"API key for consumer {args.name!r} (shown only now; store it in a secret manager):")
    print()
    print(f"  {key}")
    print()
    print("Add to `consumers:` in the cluster config (or append the api_keys item to an")
    print("existing consumer), then `zonegate config apply`:")
    print()
    print(config_entry(args.name, args.group, key_id, key_hash))
    return 0
