"""A stand-alone election candidate process, for drills, benchmarks and tests.

``python -m zonegate.coordinator.candidate --etcd HOST:PORT --name a --ttl 3``
campaigns for leadership of a cluster and prints one JSON line per event:
``{"event": "leader", "token": N, "t": unix}`` when elected, ``follower`` when
it loses leadership, ``resigned`` on SIGTERM/SIGINT (it revokes its lease).

With ``--fenced-key KEY`` it also writes KEY every ``--write-interval``
seconds, from its first election on, always with the fencing token it was
first elected with, and prints ``{"event": "write", "ok": ...}``: a leader
paused past its TTL and replaced sees its writes refused (``ok: false``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from typing import Any

from zonegate.coordinator.client import EtcdClient
from zonegate.coordinator.election import DEFAULT_TTL, Election, fenced_txn
from zonegate.coordinator.errors import EtcdUnavailableError, FencedError
from zonegate.coordinator.etcd_types import Put
from zonegate.coordinator.keys import Keys
from zonegate.coordinator.tasks import cancel_and_wait


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


async def write_loop(election: Election, key: str, interval: float) -> None:
    await election.wait_until_leader()
    token, leader_key = election.fencing_token, election.key
    assert leader_key is not None
    seq = 0
    while True:
        seq += 1
        value = json.dumps({"writer": election.name, "seq": seq, "token": token})
        try:
            await fenced_txn(election.client, leader_key, token, [Put(key, value.encode())])
            emit("write", ok=True, seq=seq, token=token)
        except FencedError:
            emit("write", ok=False, seq=seq, token=token)
        except EtcdUnavailableError as exc:
            emit("write_error", seq=seq, error=str(exc))
        await asyncio.sleep(interval)


async def main(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with EtcdClient(args.etcd, timeout=args.etcd_timeout, probe_interval=0.5) as client:

        def on_leadership(leading: bool) -> None:
            if leading:
                emit("leader", name=args.name, token=election.fencing_token)
            else:
                emit("follower", name=args.name)

        election = Election(
            client, Keys(args.cluster), args.name, ttl=args.ttl, on_leadership=on_leadership
        )
        election.start()
        emit("campaigning", name=args.name)
        writer = None
        if args.fenced_key:
            writer = asyncio.create_task(write_loop(election, args.fenced_key, args.write_interval))
        await stop.wait()
        if writer is not None:
            await cancel_and_wait(writer)
        await election.resign()
        emit("resigned", name=args.name)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m zonegate.coordinator.candidate")
    parser.add_argument("--etcd", required=True, help="etcd endpoints HOST:PORT[,...]")
    parser.add_argument("--cluster", default="zonegate")
    parser.add_argument("--name", required=True)
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL)
    parser.add_argument("--etcd-timeout", type=float, default=1.0)
    parser.add_argument("--fenced-key", help="write this key with the fencing token")
    parser.add_argument("--write-interval", type=float, default=0.05)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
