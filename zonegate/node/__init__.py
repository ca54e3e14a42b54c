"""One gateway node: the data plane."""
