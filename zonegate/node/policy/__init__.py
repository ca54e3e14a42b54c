"""Pure cores of the node's policies: rate-limit algorithms, key stores, credentials."""
