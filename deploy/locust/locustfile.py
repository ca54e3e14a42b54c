"""Steady demo traffic through the GLBs for the docker-compose cluster (the `locust` service).

Mostly catalog reads, some idempotent order writes, profile reads; clients come from
both regions (``x-client-region``), so every zone gets traffic and a zone outage shows
up as traffic moving. Open http://127.0.0.1:8089 and start a swarm, or run headless:

    docker compose run --rm locust -f /mnt/locust/locustfile.py --headless \
        -u 50 -r 10 -t 5m --host http://glb-1:8000

``ZONEGATE_GLB_URLS`` (comma-separated) spreads users over several GLB replicas.
Runs in the official locust image, so it imports nothing from zonegate.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid

from locust import HttpUser, between, task

REGIONS = ("eu-west-1", "us-east-1")
ITEM_IDS = range(1, 13)
_GLB_URLS = [u.strip() for u in os.environ.get("ZONEGATE_GLB_URLS", "").split(",") if u.strip()]
_NEXT_GLB = itertools.cycle(_GLB_URLS) if _GLB_URLS else None


class GatewayClient(HttpUser):
    """One client of one region, pinned to one GLB replica."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        if _NEXT_GLB is not None:
            self.client.base_url = next(_NEXT_GLB)
        self.region = random.choice(REGIONS)
        self.client.headers["x-client-region"] = self.region

    @task(6)
    def list_items(self) -> None:
        self.client.get("/catalog/items", name="GET /catalog/items")

    @task(3)
    def get_item(self) -> None:
        self.client.get(f"/catalog/items/{random.choice(ITEM_IDS)}", name="GET /catalog/items/:id")

    @task(1)
    def create_order(self) -> None:
        self.client.post(
            "/orders",
            json={"item_id": random.choice(ITEM_IDS), "quantity": random.randint(1, 3)},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            name="POST /orders",
        )

    @task(1)
    def profile(self) -> None:
        self.client.get(f"/users/user-{random.randint(1, 500)}", name="GET /users/:name")
