"""Operating a gateway node: admin listener, metrics, tracing, access log, TLS, drain."""
