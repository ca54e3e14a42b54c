"""The node's filter chain and its filters."""
