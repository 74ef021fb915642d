"""Heroku's Platform API (v3) for dynoform: formation, dynos, dyno sizes, apps and the account,
served by FastAPI, so Heroku's own tools (the `heroku` CLI, API clients, scripts) drive
Formations with nothing changed but the host they talk to.

Every call is made to the Kubernetes API as the caller: the API key is the caller's Kubernetes
bearer token, passed through as it is (docs/decisions/0013-platform-api-token-passthrough.md).
The server holds no rights of its own; RBAC decides, and the API server's audit log and the
Formation's history name the real user.
"""
