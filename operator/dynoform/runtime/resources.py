"""The kinds dynoform reads and writes, and the permissions that go with them (no I/O).

dynoform.runtime.kube, the only module that talks to the API, uses these (and re-exports them).
PERMISSIONS is what deploy/rbac.yaml and the Helm chart grant (tests/unit/test_rbac.py,
test_chart_rbac.py).
"""

from __future__ import annotations

from typing import Any

from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import (
    Generic,
    create_global_resource,
    create_namespaced_resource,
)

from dynoform.api.v1alpha1 import GROUP, VERSION

_PATHS: dict[str, tuple[str, str, bool]] = {}  # kind -> (API root, plural, namespaced)


def generic(group: str, version: str, kind: str, plural: str, namespaced: bool = True) -> Any:
    """A dict-based resource class; lightkube keeps one class per kind process-wide."""
    api_version = f"{group}/{version}" if group else version
    _PATHS[kind] = (f"/apis/{api_version}" if group else f"/api/{version}", plural, namespaced)
    known = resource_registry.get(api_version, kind)
    if known is not None and issubclass(known, Generic):
        return known
    create = create_namespaced_resource if namespaced else create_global_resource
    return create(group, version, kind, plural)


RESOURCES: dict[str, Any] = {
    "Deployment": generic("apps", "v1", "Deployment", "deployments"),
    "Service": generic("", "v1", "Service", "services"),
    "PodDisruptionBudget": generic("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    "HorizontalPodAutoscaler": generic(
        "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"
    ),
    "Job": generic("batch", "v1", "Job", "jobs"),  # the release phase
    "CronJob": generic("batch", "v1", "CronJob", "cronjobs"),  # scheduled jobs
    "ScaledObject": generic("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"),
    # Eco sleep, through the KEDA HTTP add-on.
    "HTTPScaledObject": generic(
        "http.keda.sh", "v1alpha1", "HTTPScaledObject", "httpscaledobjects"
    ),
}
# Children whose API a cluster may not serve: informed only while their CRD exists (the
# Controller watches these CRDs by name), and without it never built (a condition says why).
OPTIONAL_KINDS = {
    "ScaledObject": "scaledobjects.keda.sh",
    "HTTPScaledObject": "httpscaledobjects.http.keda.sh",
}
CrdResource = generic(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    namespaced=False,
)
FormationResource = generic(GROUP, VERSION, "Formation", "formations")
DynoSizeResource = generic(GROUP, VERSION, "DynoSize", "dynosizes", namespaced=False)
EventResource = generic("", "v1", "Event", "events")
LeaseResource = generic("coordination.k8s.io", "v1", "Lease", "leases")
WATCHED: dict[str, Any] = {
    **RESOURCES,
    "DynoSize": DynoSizeResource,
    # Where the dynos run, for the verified spread: our pods (by label) and the nodes' zones.
    "Pod": generic("", "v1", "Pod", "pods"),
    "Node": generic("", "v1", "Node", "nodes", namespaced=False),
    "CustomResourceDefinition": CrdResource,
}
CLUSTER_SCOPED = frozenset({"DynoSize", "Node", "CustomResourceDefinition"})


def api_path(kind: str, namespace: str | None = None) -> str:
    """The collection's path: `/apis/apps/v1/namespaces/NS/deployments`, or across every
    namespace (None) `/apis/apps/v1/deployments`."""
    root, plural, namespaced = _PATHS[kind]
    return (
        f"{root}/namespaces/{namespace}/{plural}"
        if namespaced and namespace
        else f"{root}/{plural}"
    )


# Every (API group, resource) -> verbs this process uses: ours above, kopf's below. The RBAC in
# deploy/rbac.yaml must grant exactly these; the Helm chart grants them less
# LOCAL_WEBHOOK_PERMISSIONS, with LEADER_ELECTION_PERMISSIONS only in a Role in its own
# namespace (tests/unit/test_rbac.py, tests/unit/test_chart_rbac.py).
_CHILD_VERBS = frozenset({"get", "list", "watch", "create", "patch", "delete"})
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    (GROUP, "formations"): frozenset({"get", "list", "watch"}),
    (GROUP, "formations/status"): frozenset({"patch"}),
    (GROUP, "dynosizes"): frozenset({"list", "watch"}),
    # The catalog's index for the admission policy (dynoform.api.admission).
    (GROUP, "dynosizes/status"): frozenset({"patch"}),
    ("apps", "deployments"): _CHILD_VERBS,
    ("", "services"): _CHILD_VERBS,
    ("policy", "poddisruptionbudgets"): _CHILD_VERBS,
    ("autoscaling", "horizontalpodautoscalers"): _CHILD_VERBS,
    ("keda.sh", "scaledobjects"): _CHILD_VERBS,
    ("http.keda.sh", "httpscaledobjects"): _CHILD_VERBS,
    ("batch", "jobs"): _CHILD_VERBS,
    ("batch", "cronjobs"): _CHILD_VERBS,
    ("", "events"): frozenset({"create"}),
    ("", "pods"): frozenset({"list", "watch"}),
    ("", "nodes"): frozenset({"list", "watch"}),
    # kopf: resource discovery and namespace scanning (it runs standalone: no peering); ours:
    # whether KEDA's and its HTTP add-on's CRDs are installed (OPTIONAL_KINDS).
    ("apiextensions.k8s.io", "customresourcedefinitions"): frozenset({"list", "watch"}),
    ("", "namespaces"): frozenset({"list", "watch"}),
}
# kopf, when it manages the admission webhooks' configurations itself (--webhook-port, local
# use). In a cluster the Helm chart owns those configurations, so its role omits these.
LOCAL_WEBHOOK_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): frozenset(
        {"create", "patch"}
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): frozenset(
        {"create", "patch"}
    ),
}
# Leader election among replicas (--leader-elect): one Lease, in the operator's own namespace.
LEADER_ELECTION_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("coordination.k8s.io", "leases"): frozenset({"get", "create", "update"}),
}
PERMISSIONS.update(LOCAL_WEBHOOK_PERMISSIONS)
PERMISSIONS.update(LEADER_ELECTION_PERMISSIONS)
