"""Shared fixtures (etcd clusters, free ports, processes) live here."""
