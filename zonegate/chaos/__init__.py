"""Fault injection and failover drills: the Toxiproxy-compatible fault proxy, experiments."""
