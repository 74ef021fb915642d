"""Formation + process type -> Deployment (pure).

Heroku semantics carried over: the command runs through a shell as a Procfile line does; a 30 s
grace between SIGTERM and SIGKILL; `DYNO` names the dyno (the pod's name, which is how Heroku's
Fir generation names dynos too); `PORT` is given to processes that listen. Singletons use the
Recreate strategy so two never run at once during a rollout.
"""

from __future__ import annotations

from typing import Any

from dynoform.api.v1alpha1 import DynoSizeSpec, Formation
from dynoform.builders.meta import LABEL_SIZE, Manifest, labels, metadata, selector

GRACE_SECONDS = 30  # Heroku: SIGTERM, then SIGKILL 30 seconds later.
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def build_deployment(
    formation: Formation, ptype: str, size: DynoSizeSpec, autoscaled: bool = False
) -> Manifest:
    """`autoscaled`: an autoscaler owns the replicas, so the body leaves them out (a server-side
    apply that set them would take them back from it on every change)."""
    spec = formation.spec
    singleton = spec.is_singleton(ptype)
    pod_labels = {**labels(formation, ptype), LABEL_SIZE: spec.processes[ptype].size}
    body: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(formation, ptype)},
        "strategy": _strategy(singleton),
        "template": {"metadata": {"labels": pod_labels}, "spec": _pod(formation, ptype, size)},
    }
    if not autoscaled:
        body = {"replicas": spec.quantity_of(ptype), **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(formation, ptype),
        "spec": body,
    }


def _strategy(singleton: bool) -> dict[str, Any]:
    if singleton:
        return {"type": "Recreate"}
    # Surge first, so a rollout never drops below the declared quantity.
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}


def _pod(formation: Formation, ptype: str, size: DynoSizeSpec) -> dict[str, Any]:
    spec = formation.spec
    pod: dict[str, Any] = {
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        # Dynos do not talk to the Kubernetes API, nor expect Service variables in their env.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": _pod_security(formation),
        "topologySpreadConstraints": [
            _spread(formation, ptype, ZONE),
            _spread(formation, ptype, HOST),
        ],
        "containers": [_container(formation, ptype, size)],
    }
    if spec.image_pull_secrets:
        pod["imagePullSecrets"] = [s.wire() for s in spec.image_pull_secrets]
    if size.node_selector:
        pod["nodeSelector"] = dict(size.node_selector)
    if size.tolerations:
        pod["tolerations"] = [t.wire() for t in size.tolerations]
    return pod


def _spread(formation: Formation, ptype: str, key: str) -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": formation.spec.spread.when_unsatisfiable,
        "labelSelector": {"matchLabels": selector(formation, ptype)},
        # Spread each rollout's pods on their own, so old pods do not skew the new ones.
        "matchLabelKeys": ["pod-template-hash"],
        # Count only nodes a dyno may run on. The default (Ignore) counts tainted nodes too,
        # such as control-plane nodes or another size's dedicated pool: each is a host with no
        # dyno, and under DoNotSchedule that caps every other host at one dyno per type.
        # https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
        "nodeTaintsPolicy": "Honor",
    }


def _pod_security(formation: Formation) -> dict[str, Any]:
    sec = formation.spec.security
    ctx: dict[str, Any] = {
        "runAsNonRoot": sec.run_as_non_root,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for key, value in (
        ("runAsUser", sec.run_as_user),
        ("runAsGroup", sec.run_as_group),
        ("fsGroup", sec.fs_group),
    ):
        if value is not None:
            ctx[key] = value
    return ctx


def _container(formation: Formation, ptype: str, size: DynoSizeSpec) -> dict[str, Any]:
    spec = formation.spec
    container: dict[str, Any] = {
        "name": ptype,
        "image": spec.image,
        "command": ["/bin/sh", "-c", spec.processes[ptype].command],
        "env": _env(formation, ptype),
        "resources": {"requests": size.requests.wire(), "limits": size.limits.wire()},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": spec.security.read_only_root_filesystem,
        },
    }
    if spec.env_from:
        container["envFrom"] = [e.wire() for e in spec.env_from]
    port = spec.port_of(ptype)
    if port is not None:
        container["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        container["readinessProbe"] = {
            "tcpSocket": {"port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        }
    return container


def _env(formation: Formation, ptype: str) -> list[dict[str, Any]]:
    spec = formation.spec
    merged = {**(spec.env or {}), **(spec.processes[ptype].env or {})}
    env: list[dict[str, Any]] = [{"name": k, "value": merged[k]} for k in sorted(merged)]
    env.append({"name": "DYNO", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append({"name": "DYNO_TYPE", "value": ptype})
    env.append({"name": "DYNO_SIZE", "value": spec.processes[ptype].size})
    port = spec.port_of(ptype)
    if port is not None:
        env.append({"name": "PORT", "value": str(port)})
    return env
