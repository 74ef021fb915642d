"""dynoform: Heroku's dyno formation for any Kubernetes cluster."""

__version__ = "0.1.0"
