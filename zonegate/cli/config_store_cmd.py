"""``zonegate config apply|show|history|rollback``: the cluster config in etcd."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from zonegate.cli.etcd_options import add_etcd_options, keys_of, run_etcd_command
from zonegate.config.loader import load_config
from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.config_store import DEFAULT_KEEP, ConfigStore, StoredConfig
from zonegate.errors import ConfigError


def _revision(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a revision number, got {value!r}")
    return int(value)


def add_actions(config_sub: Any) -> None:
    """Add the etcd-backed actions to ``zonegate config``."""
    apply = config_sub.add_parser(
        "apply",
        help="validate a config file and write it to etcd (one transaction)",
        description="Validates FILE, then writes it to etcd in one transaction that fails if "
        "the stored config changed since the revision it is based on (--expect-revision, else "
        "the one read just before). The cluster is the file's `cluster:` field.",
    )
    apply.add_argument("file", help="cluster config (YAML or JSON)")
    apply.add_argument(
        "--expect-revision",
        type=_revision,
        metavar="REV",
        help="refuse unless the stored config is at REV (0: none stored yet)",
    )
    apply.add_argument("-m", "--message", default="", help="a note kept in the history")
    _keep_option(apply)
    add_etcd_options(apply, cluster_help="cluster name (default: the file's `cluster:` field)")
    apply.set_defaults(handler=cmd_apply)

    show = config_sub.add_parser("show", help="print the config stored in etcd")
    show.add_argument("--revision", type=_revision, metavar="REV", help="an older kept revision")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    add_etcd_options(show)
    show.set_defaults(handler=cmd_show)

    history = config_sub.add_parser("history", help="list the kept config revisions")
    history.add_argument("--json", action="store_true", help="print JSON")
    _keep_option(history)
    add_etcd_options(history)
    history.set_defaults(handler=cmd_history)

    rollback = config_sub.add_parser(
        "rollback", help="apply the config of an earlier revision again, as a new revision"
    )
    rollback.add_argument("revision", type=_revision, metavar="REV", help="revision to restore")
    rollback.add_argument("--expect-revision", type=_revision, metavar="REV", help="as for apply")
    _keep_option(rollback)
    add_etcd_options(rollback)
    rollback.set_defaults(handler=cmd_rollback)


def _keep_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help=f"config versions kept in the history (default {DEFAULT_KEEP})",
    )


def _when(stored: StoredConfig) -> str:
    if not stored.applied_at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stored.applied_at))


def cmd_apply(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        from zonegate.cli.config_cmd import report_config_error

        report_config_error(exc, args.file)
        return 1
    keys = keys_of(args, default_cluster=config.cluster)
    if keys.cluster != config.cluster:
        print(
            f"error: {args.file} is for cluster {config.cluster!r}, not {keys.cluster!r}",
            file=sys.stderr,
        )
        return 1

    async def run(client: EtcdClient) -> int:
        store = ConfigStore(client, keys, keep=args.keep)
        stored, changed = await store.apply(
            config, expect_revision=args.expect_revision, message=args.message
        )
        if changed:
            print(f"applied {args.file} to cluster {keys.cluster!r} as revision {stored.revision}")
        else:
            print(f"unchanged: cluster {keys.cluster!r} already runs this config "
                  f"(revision {stored.revision})")  # fmt: skip
        return 0

    return run_etcd_command(args, run)


def cmd_show(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        store = ConfigStore(client, keys)
        if args.revision is not None:
            stored: StoredConfig | None = await store.at_revision(args.revision)
        else:
            stored = await store.current()
        if stored is None:
            print(f"error: no config stored for cluster {keys.cluster!r}", file=sys.stderr)
            return 1
        if args.json:
            json.dump(stored.document, sys.stdout, indent=2, sort_keys=True)
            print()
        else:
            print(f"# cluster {keys.cluster!r}, {stored.describe()}")
            print(yaml.safe_dump(stored.document, sort_keys=False), end="")
        return 0

    return run_etcd_command(args, run)


def cmd_history(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        store = ConfigStore(client, keys, keep=args.keep)
        current = await store.current()
        history = await store.history()
        if args.json:
            rows = [
                {
                    "revision": s.revision,
                    "version": s.version,
                    "applied_by": s.applied_by,
                    "applied_at": s.applied_at,
                    "message": s.message,
                    "current": current is not None and s.revision == current.revision,
                }
                for s in history
            ]
            json.dump(rows, sys.stdout, indent=2)
            print()
            return 0
        table = Table(title=f"config history of cluster {keys.cluster!r}")
        for column in ("revision", "applied at", "applied by", "message", ""):
            table.add_column(column)
        for s in history:
            mark = "current" if current is not None and s.revision == current.revision else ""
            table.add_row(str(s.revision), _when(s), s.applied_by, s.message, mark)
        Console().print(table)
        return 0

    return run_etcd_command(args, run)


def cmd_rollback(args: argparse.Namespace) -> int:
    keys = keys_of(args)

    async def run(client: EtcdClient) -> int:
        store = ConfigStore(client, keys, keep=args.keep)
        try:
            stored, changed = await store.rollback(
                args.revision, expect_revision=args.expect_revision
            )
        except ConfigError as exc:
            print(f"error: revision {args.revision} no longer validates:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        if changed:
            print(f"rolled back to the config of revision {args.revision}: "
                  f"now revision {stored.revision}")  # fmt: skip
        else:
            print(f"unchanged: revision {args.revision}'s config is already current")
        return 0

    return run_etcd_command(args, run)
