"""The Helm chart against the real API server: every value set accepted by a server-side dry
run, a real `helm install` / `upgrade` / `uninstall` that keeps the CRDs, and the namespaced
RBAC (with the leader-election Role in the release namespace only) as the API server enforces it.

Webhooks are disabled in every real install here: a webhook configuration pointing at a Service
would make the API server dial a Service IP on every Formation write, and nothing may leave
127.0.0.1. Dry runs create nothing, so the webhook-enabled renders are validated that way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dynoform.api.admission import CATALOG_POLICY, NAMES_POLICY
from dynoform.api.sizes import BUILTIN
from tests.unit.test_chart_render import CHART, CI_VALUES, helm_template

KEPT = [
    "crd/formations.dyno.dev",
    "crd/dynosizes.dyno.dev",
    *(
        f"{kind}/{name}"
        for kind in ("validatingadmissionpolicy", "validatingadmissionpolicybinding")
        for name in (NAMES_POLICY, CATALOG_POLICY)
    ),
    *(f"dynosize/{name}" for name in BUILTIN),
]
NAMESPACED_CI = ("shop", "billing")  # ci/namespaced-values.yaml

# cert-manager is not installed on the local control plane. These stand-ins register its two
# kinds so the cert-manager render can be dry-run at all; they accept any spec, so for those two
# objects only the envelope (group, kind, namespace, metadata) is checked, not cert-manager's
# own schema.
CERT_MANAGER_STANDINS = [
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.cert-manager.io"},
        "spec": {
            "group": "cert-manager.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    for kind, plural in (("Certificate", "certificates"), ("Issuer", "issuers"))
]


def _ensure_namespace(cluster, name: str) -> None:  # type: ignore[no-untyped-def]
    if cluster.kubectl("get", "namespace", name, check=False).returncode != 0:
        cluster.kubectl("create", "namespace", name)


@pytest.fixture(scope="module")
def chart_ready(cluster) -> str:  # type: ignore[no-untyped-def]
    """The CRDs the renders use (as the chart renders them) installed for real, the namespaces
    the value sets name, and a release namespace. Returns that namespace."""
    crds = helm_template("--show-only", "templates/crds.yaml").stdout
    only_crds = [d for d in yaml.safe_load_all(crds) if d]
    if cluster.kubectl("get", "crd", "certificates.cert-manager.io", check=False).returncode:
        only_crds += CERT_MANAGER_STANDINS
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-",
        input=yaml.safe_dump_all(only_crds),
    )  # fmt: skip
    names = [f"crd/{d['metadata']['name']}" for d in only_crds if d["kind"].endswith("Definition")]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    for ns in NAMESPACED_CI:
        _ensure_namespace(cluster, ns)
    release_ns = f"dfc-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", release_ns)
    return release_ns


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: Path(p).stem)
def test_every_value_set_is_accepted_by_the_api_server(cluster, chart_ready: str, values: Path):
    manifest = helm_template("-f", str(values), namespace=chart_ready).stdout
    objects = [d for d in yaml.safe_load_all(manifest) if d]
    result = cluster.kubectl(
        "apply", "--dry-run=server", "--server-side", "--validate=strict", "-f", "-",
        input=manifest, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(objects), result.stdout


def _helm(cluster, *args: str) -> str:  # type: ignore[no-untyped-def]
    return str(cluster.helm(*args).stdout)


def _adopt(cluster, objects: list[str], release: str, namespace: str) -> None:  # type: ignore[no-untyped-def]
    """The chart README's way to bring objects applied by kubectl under a release."""
    for obj in objects:
        if cluster.kubectl("get", obj, check=False).returncode == 0:
            cluster.kubectl("label", obj, "app.kubernetes.io/managed-by=Helm", "--overwrite")
            cluster.kubectl(
                "annotate", obj, f"meta.helm.sh/release-name={release}",
                f"meta.helm.sh/release-namespace={namespace}", "--overwrite",
            )  # fmt: skip


@pytest.fixture
def release_ns(cluster) -> Iterator[str]:  # type: ignore[no-untyped-def]
    ns = f"dfr-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_install_upgrade_and_uninstall_keep_the_crds(cluster, chart_ready: str, release_ns: str):
    release, size = "dfc", f"t-{uuid.uuid4().hex[:6]}"
    _adopt(cluster, KEPT, release, release_ns)
    args = [
        # The session's stamp policy stays the session's: none in this release.
        str(CHART), "-n", release_ns, "--set", "admission.stampPolicy=false",
        "--set-string", f"dynoSizes.{size}.tier=standard",
        "--set-string", f"dynoSizes.{size}.requests.cpu=100m",
        "--set-string", f"dynoSizes.{size}.requests.memory=256Mi",
        "--set-string", f"dynoSizes.{size}.limits.cpu=1",
        "--set-string", f"dynoSizes.{size}.limits.memory=256Mi",
    ]  # fmt: skip
    try:
        out = _helm(cluster, "install", release, *args, "--wait", "--timeout=90s")
        notes = out.split("NOTES:", 1)[1]
        assert f"kubectl -n {release_ns} rollout status deployment/dfc-dynoform" in notes
        assert "kubectl wait --for=condition=Ready formation/shop" in notes
        assert "the history records\neach change without its user" in notes
        assert f"kubectl -n {release_ns} get lease/dfc-dynoform" in notes
        # The two operator Pods (kwok fakes here), their disruption budget, and the size the
        # install hook created.
        ready = cluster.kubectl(
            "get", "deployment/dfc-dynoform", "-n", release_ns, "-o",
            "jsonpath={.status.readyReplicas}",
        )  # fmt: skip
        assert ready.stdout == "2"
        cluster.kubectl("get", f"dynosize/{size}", "pdb/dfc-dynoform", "-n", release_ns)
        # The first upgrade adopts what the install hook created as ordinary release objects.
        _helm(cluster, "upgrade", release, *args, "--set", "resyncSeconds=60")
        manifest = _helm(cluster, "get", "manifest", release, "-n", release_ns)
        assert f"name: {size}" in manifest
        assert "kopf.dev" not in manifest
        container = cluster.kubectl(
            "get", "deployment/dfc-dynoform", "-n", release_ns,
            "-o", "jsonpath={.spec.template.spec.containers[0]}",
        ).stdout  # fmt: skip
        assert "--resync=60" in container
        assert "--lease-name=dfc-dynoform" in container
    finally:
        uninstall = cluster.helm("uninstall", release, "-n", release_ns, "--wait", check=False)
    assert uninstall.returncode == 0, uninstall.stderr
    for obj in KEPT:
        assert cluster.kubectl("get", obj, check=False).returncode == 0, f"{obj} was deleted"
    for gone in (f"dynosize/{size}", "clusterrole/dfc-dynoform"):
        result = cluster.kubectl("get", gone, check=False)
        assert "NotFound" in result.stderr, gone
    left = cluster.kubectl(
        "get", "deployment,serviceaccount,pdb,role,rolebinding", "-n", release_ns, "-o", "name",
        "-l", f"app.kubernetes.io/instance={release}",
    )  # fmt: skip
    assert left.stdout.strip() == ""
    for obj in KEPT:  # Leave the kept objects as they were: no longer any release's.
        cluster.kubectl(
            "annotate", obj, "meta.helm.sh/release-name-", "meta.helm.sh/release-namespace-"
        )


def test_namespaced_rbac_is_enforced_by_the_api_server(cluster, chart_ready: str, release_ns: str):
    watched, other = NAMESPACED_CI
    _helm(
        cluster, "install", "dfn", str(CHART), "-n", release_ns,
        "--set", f"watchNamespaces={{{watched}}}", "--set", "webhooks.enabled=false",
        "--set", "crds.enabled=false",
    )  # fmt: skip
    sa = f"system:serviceaccount:{release_ns}:dfn-dynoform"

    def can(*args: str) -> bool:
        result = cluster.kubectl("auth", "can-i", f"--as={sa}", *args, check=False)
        return result.stdout.strip() == "yes"

    try:
        assert can("patch", "deployments.apps", "-n", watched)
        assert can("patch", "formations.dyno.dev", "--subresource=status", "-n", watched)
        assert can("watch", "pods", "-n", watched)
        assert can("list", "dynosizes.dyno.dev")
        assert can("watch", "namespaces")
        assert can("watch", "nodes")
        assert not can("patch", "deployments.apps", "-n", other)
        assert not can("list", "formations.dyno.dev", "-n", other)
        assert not can("list", "pods", "-n", other)
        assert not can("get", "secrets", "-n", watched)
        assert not can("delete", "namespaces")
        assert not can("create", "validatingwebhookconfigurations.admissionregistration.k8s.io")
        # Leader election: the release's own Lease, in the release namespace, and nowhere else.
        lease = "leases.coordination.k8s.io"
        assert can("create", lease, "-n", release_ns)
        for verb in ("get", "update"):
            assert can(verb, f"{lease}/dfn-dynoform", "-n", release_ns)
            assert not can(verb, f"{lease}/someone-else", "-n", release_ns)
        assert not can("delete", f"{lease}/dfn-dynoform", "-n", release_ns)
        assert not can("list", lease, "-n", release_ns)
        assert not can("create", lease, "-n", watched)
        assert not can("update", f"{lease}/dfn-dynoform", "-n", watched)
        assert not can("create", lease, "--all-namespaces")
    finally:
        cluster.helm("uninstall", "dfn", "-n", release_ns, "--wait", check=False)
