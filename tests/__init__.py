"""dynoform's test suite: tests/unit (pure), tests/integration and tests/e2e (a real API server)."""
