"""The dashboard: server-rendered pages to see and scale the formations a user may see.

Built on the Platform API server's own functions (dynoform.server): every Kubernetes call is made
as the signed-in user with their bearer token, so the page can do exactly what the API can, under
the same RBAC. Pages are Jinja2 templates; the live parts are htmx and its SSE extension, vendored
in static/ (versions and licences in static/VENDORED.md).
"""
