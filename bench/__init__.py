"""dynoform's benchmarks: the operator at scale, side by side with the API server's own limit."""
