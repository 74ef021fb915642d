"""The Helm chart as `helm template` renders it: values, schema, CRDs, the operator's Deployment,
the webhooks and their certificate, DynoSizes from values. No cluster; the pinned helm binary.

Owns `render()` and `chart_values()`, which the chart's integration and e2e tests reuse.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from dynoform.api.admission import STAMP_POLICY
from dynoform.api.crd import render as generated_crds
from dynoform.api.sizes import BUILTIN
from localcluster import binaries

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "dynoform"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
KUBE_VERSION = "1.35.4"
NAMESPACE = "dynoform-system"
Doc = dict[str, Any]
WEBHOOK = ("-f", str(CHART / "ci" / "webhook-values.yaml"))


@cache
def helm() -> str:
    return str(binaries.ensure(["helm"]).path("helm"))


def helm_template(
    *args: str, release: str = "dyno", namespace: str = NAMESPACE, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = [helm(), "template", release, str(CHART), "-n", namespace]
    result = subprocess.run(
        [*argv, "--kube-version", KUBE_VERSION, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)} failed:\n{result.stderr}")
    return result


def render(*args: str, release: str = "dyno", namespace: str = NAMESPACE) -> list[Doc]:
    """The chart's objects for these `helm template` arguments (e.g. `-f ci/x.yaml`)."""
    text = helm_template(*args, release=release, namespace=namespace).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def chart_values() -> Doc:
    loaded: Doc = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in the render"
    return found[0]


def kinds(docs: list[Doc]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def _is_metrics_service(doc: Doc) -> bool:
    return doc["kind"] == "Service" and doc["metadata"]["name"].endswith("-metrics")


# --- Values and schema -----------------------------------------------------------------------


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        return [p for k, v in node.items() for p in _leaf_paths(v, f"{prefix}{k}.")]
    return [prefix.rstrip(".")]


def _line_of(lines: list[str], path: str) -> int:
    """The line of `path`'s key in values.yaml (each key searched after its parent's line)."""
    at = -1
    for depth, key in enumerate(path.split(".")):
        indent = "  " * depth
        at = next(i for i in range(at + 1, len(lines)) if lines[i].startswith(f"{indent}{key}:"))
    return at


def test_every_value_is_documented_in_values_yaml_the_schema_and_the_readme() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    readme = (CHART / "README.md").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path in _leaf_paths(chart_values()):
        parts = path.split(".")
        prefixes = [".".join(parts[: n + 1]) for n in range(len(parts))]
        # A `# --` comment documents a value or the map that holds it (resources, say).
        documented = [_line_of(lines, p) for p in prefixes]
        assert any(lines[at - 1].strip().startswith("#") for at in documented), path
        assert any(f"| `{p}` |" in readme for p in prefixes), f"{path}: not in the README table"
        node = schema
        for part in parts:
            node = node["properties"][part]
            if "additionalProperties" in node and not node.get("properties"):
                break  # a map (resources.requests, dynoSizes): its values are free keys
        assert node.get("description") or path.startswith("resources."), path


def _objects(node: Any) -> list[Doc]:
    if isinstance(node, dict):
        own = [node] if node.get("type") == "object" else []
        return own + [o for v in node.values() for o in _objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _objects(v)]
    return []


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    for node in _objects(schema):
        # Fixed keys: additionalProperties false; maps (labels, sizes): a schema for the values.
        extra = node.get("additionalProperties")
        assert extra is False or isinstance(extra, dict), node


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--set", "replicas=3"], "additional properties 'replicas' not allowed"),
        (["--set", "image.tags=v1"], "additional properties 'tags' not allowed"),
        (["--set", "webhooks.failurePolicy=Fail"], "'failurePolicy' not allowed"),
        (["--set", "dynoSizes.big.tier=x", "--set", "dynoSizes.big.cpu=1"], "'cpu' not allowed"),
        (["--set", "leaderElection.enabled=false"], "/leaderElection/enabled"),  # 2 replicas
        (["--set", "replicaCount=3", "--set", "leaderElection.enabled=false"], "leaderElection"),
        (["--set", "peering.enabled=true"], "additional properties 'peering' not allowed"),
        (["--set", "topologySpread.whenUnsatisfiable=Sometimes"], "whenUnsatisfiable"),
        (["--set", "watchNamespaces[0]=Not_A_Namespace"], "watchNamespaces"),
    ],
)
def test_the_schema_refuses_bad_values_before_anything_renders(
    args: list[str], complaint: str
) -> None:
    result = helm_template(*args, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr


def test_the_schemas_dyno_size_is_the_crds_with_unknown_keys_refused() -> None:
    crd = yaml.safe_load(generated_crds()["dynosizes.dyno.dev.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: strict(v) for k, v in node.items()}
            if out.get("type") == "object" and "properties" in out:
                out["additionalProperties"] = False
            return out
        return [strict(v) for v in node] if isinstance(node, list) else node

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["properties"]["dynoSizes"]["additionalProperties"] == strict(spec)


# --- CRDs --------------------------------------------------------------------------------------


def test_the_charts_crd_files_are_byte_copies_of_the_generated_ones() -> None:
    for name, text in generated_crds().items():
        path = CHART / "files" / "crds" / name
        assert path.exists(), f"{path} is missing: run `make crds`"
        assert path.read_text() == text, f"{path} drifted: run `make crds`"


def test_the_rendered_crds_are_the_generated_ones_kept_on_uninstall() -> None:
    docs = render("--show-only", "templates/crds.yaml")
    expected = [d for text in generated_crds().values() for d in yaml.safe_load_all(text) if d]
    assert len(docs) == len(expected) == 6
    for doc in docs:
        meta = doc["metadata"]
        assert meta["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    strip = [{**d, "metadata": {"name": d["metadata"]["name"]}} for d in docs]
    assert sorted(strip, key=json.dumps) == sorted(expected, key=json.dumps)


def test_crds_can_be_left_to_the_user_or_deleted_on_uninstall() -> None:
    assert "CustomResourceDefinition" not in kinds(render("--set", "crds.enabled=false"))
    docs = render("--set", "crds.keep=false", "--show-only", "templates/crds.yaml")
    assert all("annotations" not in d["metadata"] for d in docs)


# --- The operator ------------------------------------------------------------------------------


LEADER_ELECTION_ARGS = [
    "--leader-elect",
    "--lease-namespace=$(POD_NAMESPACE)",
    "--lease-name=dyno-dynoform",
]
POD_NAMESPACE_ENV = {
    "name": "POD_NAMESPACE",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
}


def test_the_default_install_runs_two_replicas_that_elect_a_leader_with_a_lease() -> None:
    docs = render()
    dep = one(docs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 2
    # A new replica is up before an old one stops; the Lease hands over the reconciling.
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    (container,) = spec["containers"]
    assert container["image"] == "dynoform/operator:0.1.0"  # the appVersion
    assert container["args"] == [
        "--liveness=http://0.0.0.0:8080/healthz",
        "--resync=300",
        *LEADER_ELECTION_ARGS,
        "--metrics-port=8081",
    ]
    # $(POD_NAMESPACE) in the args is the kubelet's expansion of this variable.
    assert container["env"] == [POD_NAMESPACE_ENV]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    spread = spec["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == dep["spec"]["selector"]
    assert one(docs, "ServiceAccount")["metadata"]["name"] == spec["serviceAccountName"]


def test_with_the_webhook_on_every_replica_serves_it() -> None:
    docs = render(*WEBHOOK)
    dep = one(docs, "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--webhook-listen=0.0.0.0:9443", "--webhook-tls-dir=/tls"} <= set(args)
    # The Service selects them all, not a leader.
    service = one(docs, "Service", "dyno-dynoform-webhook")
    assert service["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_the_default_value_set_is_the_default() -> None:
    assert yaml.safe_load((CHART / "ci" / "default-values.yaml").read_text()) == {}
    assert chart_values()["replicaCount"] == 2
    assert chart_values()["leaderElection"] == {"enabled": True}


def test_nothing_of_kopf_peering_is_left() -> None:
    assert not list(CHART.rglob("*peering*"))
    for values in CI_VALUES:
        docs = render("-f", str(values))
        assert not [d for d in docs if "kopf.dev" in d["apiVersion"]], values.name
        assert not [d for d in docs if "kopf.dev" in json.dumps(d.get("spec", {}))], values.name
        args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        assert not [a for a in args if a.startswith("--peering")], values.name


def test_one_replica_keeps_the_lease_and_rolls_over_it() -> None:
    docs = render("--set", "replicaCount=1")
    dep = one(docs, "Deployment")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith(("--leader", "--lease"))] == LEADER_ELECTION_ARGS
    # A PodDisruptionBudget over a single replica would block every node drain.
    assert "PodDisruptionBudget" not in kinds(docs)


def test_one_replica_without_leader_election_is_recreated_never_doubled() -> None:
    docs = render("-f", str(CHART / "ci" / "single-replica-values.yaml"))
    dep = one(docs, "Deployment")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith(("--leader", "--lease"))]
    assert not {"PodDisruptionBudget", "Role", "RoleBinding"} & set(kinds(docs))


def test_the_lease_is_named_after_the_release() -> None:
    dep = one(render("--set", "fullnameOverride=ops"), "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--lease-name=ops" in args
    assert "--lease-namespace=$(POD_NAMESPACE)" in args


def test_the_operator_runs_restricted() -> None:
    spec = one(render(), "Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        # The webhook certificate's Secret is mounted 0440: readable through this group only.
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["enableServiceLinks"] is False


def test_an_image_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    dep = one(render("--set", f"image.digest={digest}", "--set", "image.tag=v9"), "Deployment")
    assert (
        dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"dynoform/operator@{digest}"
    )


def test_by_default_no_webhook_flags_and_no_certificate_volume() -> None:
    docs = render()
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert not [a for a in spec["containers"][0]["args"] if a.startswith("--webhook")]
    assert [v["name"] for v in spec["volumes"]] == ["tmp"]


def test_listed_namespaces_become_operator_flags_and_the_lease_stays_in_the_release_ns() -> None:
    docs = render("-f", str(CHART / "ci" / "namespaced-values.yaml"))
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace")] == [
        "--namespace=shop",
        "--namespace=billing",
    ]
    assert [a for a in args if a.startswith(("--leader", "--lease"))] == LEADER_ELECTION_ARGS


# --- Webhooks and their certificate ------------------------------------------------------------


def _webhook(docs: list[Doc], kind: str) -> Doc:
    (hook,) = one(docs, kind)["webhooks"]
    return dict(hook)


def test_the_webhook_is_scoped_to_formation_writes_and_never_blocks_them() -> None:
    docs = render(*WEBHOOK)
    # One webhook judges and stamps: one call per write (dynoform.operator.webhooks).
    assert "ValidatingWebhookConfiguration" not in kinds(docs)
    hook = _webhook(docs, "MutatingWebhookConfiguration")
    assert hook["name"] == "formations.dyno.dev"
    # Judged again when a later mutating webhook changes the Formation.
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["failurePolicy"] == "Ignore"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["timeoutSeconds"] == 5
    assert hook["rules"] == [
        {
            "apiGroups": ["dyno.dev"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["formations"],
            "scope": "Namespaced",
        }
    ]
    service = hook["clientConfig"]["service"]
    assert service == {
        "name": "dyno-dynoform-webhook",
        "namespace": NAMESPACE,
        "path": "/formations",
        "port": 443,
    }


def test_helms_certificate_is_signed_by_the_ca_the_webhooks_trust_for_the_service_name() -> None:
    docs = render(*WEBHOOK)
    secret = one(docs, "Secret", "dyno-dynoform-webhook-tls")
    ca_b64 = secret["data"]["ca.crt"]
    assert _webhook(docs, "MutatingWebhookConfiguration")["clientConfig"]["caBundle"] == ca_b64
    ca = x509.load_pem_x509_certificate(base64.b64decode(ca_b64))
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"dyno-dynoform-webhook.{NAMESPACE}.svc" in sans.get_values_for_type(x509.DNSName)
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=3000)
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["checksum/webhook-ca"]
    (tls,) = [v for v in pod["spec"]["volumes"] if v["name"] == "webhook-tls"]
    assert tls["secret"]["secretName"] == "dyno-dynoform-webhook-tls"


def test_cert_manager_issues_the_certificate_and_injects_the_ca() -> None:
    docs = render("-f", str(CHART / "ci" / "cert-manager-values.yaml"))
    assert "Secret" not in kinds(docs)
    cert = one(docs, "Certificate")
    assert cert["spec"]["secretName"] == "dyno-dynoform-webhook-tls"
    assert cert["spec"]["issuerRef"] == {
        "name": "dyno-dynoform-selfsigned",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert one(docs, "Issuer")["spec"] == {"selfSigned": {}}
    conf = one(docs, "MutatingWebhookConfiguration")
    inject = conf["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert inject == f"{NAMESPACE}/dyno-dynoform-webhook"
    assert "caBundle" not in conf["webhooks"][0]["clientConfig"]


def test_a_given_issuer_is_used_instead_of_a_self_signed_one() -> None:
    docs = render(
        *WEBHOOK,
        "--set", "certManager.enabled=true",
        "--set", "certManager.issuerRef.name=corp-ca",
        "--set", "certManager.issuerRef.kind=ClusterIssuer",
    )  # fmt: skip
    assert "Issuer" not in kinds(docs)
    assert one(docs, "Certificate")["spec"]["issuerRef"] == {
        "name": "corp-ca",
        "kind": "ClusterIssuer",
    }


def test_by_default_nothing_of_the_webhook_is_rendered() -> None:
    docs = [d for d in render() if not _is_metrics_service(d)]
    assert not {
        "Secret",
        "Service",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    } & set(kinds(docs))
    assert "volumes" in one(docs, "Deployment")["spec"]["template"]["spec"]  # /tmp only


def test_namespaced_webhooks_only_see_the_listed_namespaces() -> None:
    docs = render(*WEBHOOK, "--set", "watchNamespaces={shop,billing}")
    selector = _webhook(docs, "MutatingWebhookConfiguration")["namespaceSelector"]
    assert selector == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop", "billing"]}
        ]
    }


# --- Admission in the API server ---------------------------------------------------------------

MAP_SERVED = ("--api-versions", "admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy")


def test_the_stamp_policy_is_installed_where_the_cluster_serves_it() -> None:
    docs = render(*MAP_SERVED)
    assert one(docs, "MutatingAdmissionPolicy")["metadata"]["name"] == STAMP_POLICY
    assert one(docs, "MutatingAdmissionPolicyBinding")["spec"]["policyName"] == STAMP_POLICY
    assert "MutatingAdmissionPolicy" not in kinds(render())
    assert "MutatingAdmissionPolicy" not in kinds(
        render(*MAP_SERVED, "--set", "admission.stampPolicy=false")
    )
    assert "MutatingAdmissionPolicy" in kinds(render("--set", "admission.stampPolicy=true"))


def test_the_rendered_stamp_policy_is_the_generated_one() -> None:
    (policy, _binding) = [
        d for d in yaml.safe_load_all((ROOT / "deploy" / "stamp-policy.yaml").read_text()) if d
    ]
    assert one(render(*MAP_SERVED), "MutatingAdmissionPolicy")["spec"] == policy["spec"]


def test_the_built_in_sizes_are_installed_as_dyno_sizes_unless_replaced_from_values() -> None:
    names = [d["metadata"]["name"] for d in render() if d["kind"] == "DynoSize"]
    assert names == list(BUILTIN)
    docs = render("-f", str(CHART / "ci" / "custom-sizes-values.yaml"))
    values = yaml.safe_load((CHART / "ci" / "custom-sizes-values.yaml").read_text())
    sizes = [d for d in docs if d["kind"] == "DynoSize"]
    assert sorted(d["metadata"]["name"] for d in sizes) == sorted({*BUILTIN, *values["dynoSizes"]})
    for doc in sizes:
        expected = values["dynoSizes"].get(doc["metadata"]["name"])
        if expected is not None:
            assert doc["spec"] == expected
    assert "DynoSize" not in kinds(render("--set", "admission.builtinSizes=false"))


# --- DynoSizes from values ---------------------------------------------------------------------


def test_sizes_from_values_become_dyno_sizes_with_their_spec() -> None:
    values = yaml.safe_load((CHART / "ci" / "custom-sizes-values.yaml").read_text())
    served = "dyno.dev/v1alpha1/DynoSize"
    docs = render("-f", str(CHART / "ci" / "custom-sizes-values.yaml"), "--api-versions", served)
    sizes = {
        d["metadata"]["name"]: d
        for d in docs
        if d["kind"] == "DynoSize" and d["metadata"]["name"] in values["dynoSizes"]
    }
    assert {n: d["spec"] for n, d in sizes.items()} == values["dynoSizes"]
    # The kind is served (an upgrade): ordinary release resources.
    assert all("helm.sh/hook" not in d["metadata"]["annotations"] for d in sizes.values())


def test_on_a_first_install_sizes_wait_for_their_crd_as_a_hook_owned_by_the_release() -> None:
    docs = render("-f", str(CHART / "ci" / "custom-sizes-values.yaml"), release="first")
    values = yaml.safe_load((CHART / "ci" / "custom-sizes-values.yaml").read_text())
    hook = {
        "helm.sh/hook": "post-install",
        "helm.sh/hook-delete-policy": "hook-failed",
        "meta.helm.sh/release-name": "first",
        "meta.helm.sh/release-namespace": NAMESPACE,
        "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true",
    }
    for size in (d for d in docs if d["kind"] == "DynoSize"):
        # The built-in sizes stay with the CRDs on uninstall; an admin's go with the release.
        name = size["metadata"]["name"]
        kept = {"helm.sh/resource-policy": "keep"} if name not in values["dynoSizes"] else {}
        assert size["metadata"]["annotations"] == {**hook, **kept}
        assert size["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_the_chart_refuses_a_kubernetes_without_admission_policies() -> None:
    result = helm_template("--kube-version", "1.29.0", check=False)
    assert "chart requires kubeVersion: >=1.30.0-0" in result.stderr


def test_the_chart_readme_and_the_gitops_page_show_the_tested_argo_cd_health_check() -> None:
    lua = (CHART / "health" / "formation.lua").read_text()
    assert f"```lua\n{lua}```" in (CHART / "README.md").read_text()
    indented = "".join("    " + ln if ln.strip() else ln for ln in lua.splitlines(keepends=True))
    gitops = (ROOT / "docs" / "operations" / "gitops.md").read_text()
    assert f"resource.customizations.health.dyno.dev_Formation: |\n{indented}```" in gitops
