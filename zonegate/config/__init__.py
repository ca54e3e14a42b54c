"""Cluster configuration: pydantic models at the edge, loaded from YAML."""
