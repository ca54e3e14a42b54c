"""zonegate: a multi-zone, highly available API gateway cluster."""

__version__ = "0.1.0"
