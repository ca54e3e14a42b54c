"""The global load-balancer shim: health-checked zone failover in front of the zones."""
