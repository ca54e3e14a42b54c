"""Demo backends for the local cluster: ``catalog``, ``orders`` and ``users``.

Each answers JSON, says which zone and instance served it, has ``/healthz``
and a fault knob (``POST/GET/DELETE /_fault``). ``orders`` deduplicates POSTs
by ``Idempotency-Key`` and ``users`` keeps login sessions, both in etcd when
given ``--etcd`` (shared across zones) or in memory otherwise.
"""
