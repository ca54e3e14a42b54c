"""Everything that goes through etcd.

``client`` is the only module that imports the etcd library (``aetcd``); the
rest (registration, discovery, election, config distribution) is written
against its small typed surface. ``etcd_server`` starts real etcd clusters for
tests, benchmarks and the local cluster.
"""
