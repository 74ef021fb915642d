"""Formation + eco web type -> the KEDA HTTP add-on's HTTPScaledObject that lets it sleep (pure).

Heroku's eco dynos sleep after 30 minutes without web traffic and wake on the next request. The
HTTP add-on does that for a Deployment: its interceptor receives the app's requests (routed by
Host header), holds them while the Deployment scales from 0, and its scaler brings the
Deployment back to 0 once no request has come for `scaledownPeriod`. While the object exists the
add-on owns the Deployment's replicas, so the Deployment's body leaves them out
(builders.deployment), as for an autoscaled type. See docs/concepts/eco-sleep.md.
"""

from __future__ import annotations

from dynoform.api.labels import child_name
from dynoform.api.v1alpha1 import Formation
from dynoform.core.builders.meta import Manifest, metadata

HTTP_SCALED_OBJECT = "HTTPScaledObject"
API_VERSION = "http.keda.sh/v1alpha1"
SLEEP_AFTER_SECONDS = 30 * 60  # Heroku: "after 30 minutes of no web traffic"
SERVICE_PORT = 80  # the port of the type's Service (builders.service)


def sleeps(formation: Formation, ptype: str, http_add_on: bool) -> bool:
    """Whether the type sleeps here: it would (FormationSpec.sleeps) and the cluster serves
    the add-on's HTTPScaledObject. Without it the type runs awake, and status says why."""
    return http_add_on and formation.spec.sleeps(ptype)


def hosts_of(formation: Formation, ptype: str) -> list[str]:
    """The Host names the interceptor routes to the type: its own, or `<formation>.<namespace>`
    (unique in the cluster, as the interceptor's routing table needs)."""
    hosts = formation.spec.processes[ptype].hosts
    return list(hosts) if hosts else [f"{formation.name}.{formation.namespace}"]


def build_http_scaled_object(
    formation: Formation, ptype: str, http_add_on: bool
) -> Manifest | None:
    if not sleeps(formation, ptype, http_add_on):
        return None
    name = child_name(formation, ptype)
    return {
        "apiVersion": API_VERSION,
        "kind": HTTP_SCALED_OBJECT,
        "metadata": metadata(formation, ptype),
        "spec": {
            "hosts": hosts_of(formation, ptype),
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
                "service": name,
                "port": SERVICE_PORT,
            },
            # An eco type runs at most one dyno: asleep (0) or awake (1).
            "replicas": {"min": 0, "max": 1},
            "scaledownPeriod": SLEEP_AFTER_SECONDS,
        },
    }
