"""Upstream clusters: hosts, load balancing, zone routing, outliers, breakers, limits."""
