"""Progressive delivery on the data plane: weighted and canary cluster choice, traffic
mirroring, custom error pages, and the service catalog."""
