"""``zonegate routes apply|diff|list|delete``: team-owned route fragments in etcd.

A team changes its own routes and clusters without touching the platform
config: ``zonegate routes diff --team orders orders.yaml`` (the CI step) shows
what would change and every reason the fragment would be refused;
``zonegate routes apply --team orders orders.yaml`` writes it under the team's
own key, only if it stays inside the team's delegation and merges cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from zonegate.cli.etcd_options import add_etcd_options, keys_of, run_etcd_command
from zonegate.config.teams import TeamFragment
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.fragments import FragmentPlan, FragmentRefusedError, FragmentStore


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "routes",
        help="team-owned route fragments: diff, apply, list, delete, schema",
        description="Each team owns a fragment (its routes and clusters) under its own etcd "
        "key, inside the paths/hosts and name prefix the platform config delegates to it.",
    )
    sub = parser.add_subparsers(dest="routes_command", metavar="ACTION", required=True)

    diff = sub.add_parser(
        "diff",
        help="show what applying a fragment would change, and whether it would be refused",
        description="Exit status 0: the fragment would be applied (changes or not); 1: it "
        "would be refused (every reason is printed); 3 with --exit-code when it has changes.",
    )
    _fragment_args(diff)
    diff.add_argument("--json", action="store_true", help="print the plan as JSON")
    diff.add_argument(
        "--exit-code", action="store_true", help="exit 3 when applying would change something"
    )
    add_etcd_options(diff)
    diff.set_defaults(handler=cmd_diff)

    apply = sub.add_parser("apply", help="check a fragment and write it to etcd")
    _fragment_args(apply)
    apply.add_argument(
        "--expect-revision",
        type=int,
        metavar="REV",
        help="refuse unless the team's stored fragment is at REV (0: none stored yet)",
    )
    apply.add_argument("-m", "--message", default="", help="a note stored with the fragment")
    add_etcd_options(apply)
    apply.set_defaults(handler=cmd_apply)

    listing = sub.add_parser("list", help="list the stored fragments of every team")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_etcd_options(listing)
    listing.set_defaults(handler=cmd_list)

    schema = sub.add_parser("schema", help="print the JSON Schema of a fragment file")
    schema.set_defaults(handler=cmd_schema)

    delete = sub.add_parser("delete", help="remove a team's fragment (its routes go away)")
    delete.add_argument("--team", required=True, help="the team")
    add_etcd_options(delete)
    delete.set_defaults(handler=cmd_delete)
    return parser


def _fragment_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", required=True, help="the team that owns the fragment")
    parser.add_argument("file", help="the fragment (YAML or JSON: version, routes, clusters)")


def read_fragment(path: str) -> Any:
    """The parsed file; a one-line error (and exit 1) when unreadable or not YAML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(_fail(f"{path}: cannot read: {exc.strerror or exc}")) from None
    except UnicodeDecodeError:
        raise SystemExit(_fail(f"{path}: not UTF-8 text")) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SystemExit(_fail(f"{path}: not valid YAML{where}")) from None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _report_problems(path: str, team: str, problems: list[str]) -> None:
    print(f"error: {path} would be refused for team {team!r}:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def plan_json(plan: FragmentPlan) -> dict[str, Any]:
    return {
        "team": plan.team,
        "stored_revision": plan.stored.revision if plan.stored else 0,
        "platform_revision": plan.platform.revision,
        "refused": plan.refused,
        "problems": plan.problems,
        "changes": [
            {"kind": c.kind, "section": c.section, "name": c.name, "fields": c.fields}
            for c in plan.changes
        ],
    }


def cmd_diff(args: argparse.Namespace) -> int:
    document = read_fragment(args.file)
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        plan = await FragmentStore(client, keys).plan(args.team, document, args.file)
        if args.json:
            json.dump(plan_json(plan), sys.stdout, indent=2)
            print()
        else:
            stored = f"revision {plan.stored.revision}" if plan.stored else "nothing stored yet"
            print(f"# team {args.team!r} on cluster {keys.cluster!r} ({stored})")
            for change in plan.changes:
                print(change.render())
            if not plan.changes and not plan.refused:
                print("no changes")
        if plan.refused:
            _report_problems(args.file, args.team, plan.problems)
            return 1
        return 3 if args.exit_code and plan.changes else 0

    return run_etcd_command(args, run)


def cmd_apply(args: argparse.Namespace) -> int:
    document = read_fragment(args.file)
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        store = FragmentStore(client, keys)
        try:
            stored, changed, plan = await store.apply(
                args.team,
                document,
                source=args.file,
                message=args.message,
                expect_revision=args.expect_revision,
            )
        except FragmentRefusedError as exc:
            _report_problems(args.file, args.team, exc.problems)
            return 1
        for change in plan.changes:
            print(change.render())
        if changed:
            print(
                f"applied {args.file} as team {args.team!r}'s fragment: revision {stored.revision}"
            )
        else:
            print(
                f"unchanged: team {args.team!r}'s fragment is already this "
                f"(revision {stored.revision})"
            )
        return 0

    return run_etcd_command(args, run)


def cmd_list(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        fragments = await FragmentStore(client, keys).all()
        rows: list[dict[str, Any]] = []
        for team in sorted(fragments):
            stored = fragments[team]
            doc = stored.document if isinstance(stored.document, dict) else {}
            rows.append(
                {
                    "team": team,
                    "revision": stored.revision,
                    "routes": len(doc.get("routes") or []),
                    "clusters": len(doc.get("clusters") or []),
                    "applied_by": stored.applied_by,
                    "applied_at": stored.applied_at,
                    "message": stored.message,
                }
            )
        if args.json:
            json.dump(rows, sys.stdout, indent=2)
            print()
            return 0
        if not rows:
            print(f"no team fragments stored for cluster {keys.cluster!r}")
        for row in rows:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["applied_at"]))
            print(
                f"{row['team']:<16} revision {row['revision']:<8} {row['routes']} routes, "
                f"{row['clusters']} clusters, by {row['applied_by'] or '?'} at {when}"
            )
        return 0

    return run_etcd_command(args, run)


def cmd_delete(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        if await FragmentStore(client, keys).delete(args.team):
            print(f"deleted team {args.team!r}'s fragment; its routes leave every node")
            return 0
        return _fail(f"team {args.team!r} has no fragment on cluster {keys.cluster!r}")

    return run_etcd_command(args, run)


def cmd_schema(args: argparse.Namespace) -> int:
    schema = TeamFragment.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "zonegate team route fragment"
    json.dump(schema, sys.stdout, indent=2)
    print()
    return 0
