"""Bad input: generated Formation manifests against the real API server, the operator running.

- Thousands of manifests (tests/strategies.py: valid ones, and valid ones with exactly one
  defect) go to the API server as a server-side dry run, through every layer that guards a
  Formation: the CRD's schema and CEL rules, the admission policy, the operator's webhooks.
  Every invalid one is refused with a message that names its defect's field; every valid one is
  accepted.
- Hundreds of generated manifests are created for real, in batches, and must each end either
  `Reconciled=True` with all its children, or `Reconciled=False` with no child at all: whatever
  the API server accepts, the operator reconciles whole or not at all, and never raises.
- Odd input, by hand: 1,000 process types, a 1 MB command, Unicode and very long names,
  quantities at and beyond their limits, a wrong type in every field of a full manifest.

Shrinking is off (each example is a request; a failure prints its manifest as it is).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lightkube import Client

from localcluster.operator import Operator
from tests.chaos import Budget
from tests.factories import formation_body
from tests.kubehelp import Deployment, condition, eventually, get
from tests.reliability import (
    Figures,
    Snapshot,
    expected_children,
    log_errors,
    log_size,
    quantity,
    scratch_namespace,
    settled,
    wait_converged,
)
from tests.strategies import SHARES, Case, case, formation, leaves, names_the_field, put

pytestmark = pytest.mark.chaos
Obj = dict[str, Any]
BATCH = 25  # Formations created for real at once, in a namespace of their own
WORKERS = 8  # requests in flight
SETTLE_SECONDS = 240.0


class Api:
    """POST a manifest as it is (no client-side parsing of what may be malformed), as kubectl
    does: strict field validation, optionally as a server-side dry run."""

    def __init__(self, kube: Client) -> None:
        self.http = kube._client._client  # lightkube's configured HTTP client (certs, server)

    def post(self, manifest: Obj, namespace: str, dry_run: bool = True) -> tuple[int, str]:
        params = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        path = f"/apis/dyno.dev/v1alpha1/namespaces/{namespace}/formations"
        response = self.http.post(path, params=params, content=json.dumps(manifest))
        if response.status_code < 300:
            return response.status_code, ""
        try:
            return response.status_code, str(response.json().get("message", response.text))
        except ValueError:
            return response.status_code, response.text


@pytest.fixture(scope="module")
def api(kube: Client) -> Api:
    return Api(kube)


@pytest.fixture(scope="module")
def shared_ns(kube: Client) -> Iterator[str]:
    """One namespace for the many dry runs of this module (nothing is stored in it)."""
    with scratch_namespace(kube, "dry") as ns:
        yield ns


def _short(manifest: Obj, limit: int = 600) -> str:
    text = json.dumps(manifest, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def check_refusal(c: Case, code: int, message: str) -> str | None:
    """None when the answer is right for the case; else what is wrong."""
    if c.valid and code >= 300:
        return f"a valid manifest was refused ({code}): {message[:500]}\n{_short(c.manifest)}"
    if not c.valid and code < 300:
        return f"accepted, but has a defect ({c.kind} at {c.path}): {_short(c.manifest)}"
    if not c.valid and code >= 500:
        return f"refused with a server error ({code}): {message[:500]}"
    if not c.valid and not names_the_field(message, c):
        where = c.path if c.path is not None else c.hints
        return f"the refusal does not name {where} ({c.kind}): {message[:500]}"
    return None


@pytest.mark.parametrize("kind", list(SHARES))
def test_every_generated_manifest_is_refused_naming_its_defect_or_accepted(
    operator: Operator, api: Api, shared_ns: str, budget: Budget, kind: str
) -> None:
    examples = budget.dry_run_manifests * SHARES[kind] // sum(SHARES.values())
    figures, answers, kinds = Figures(f"fuzz dry run: {kind}"), Counter[str](), Counter[str]()
    started, log_mark = time.monotonic(), log_size(operator)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(c=case(kind, shared_ns))
    def one(c: Case) -> None:
        code, message = api.post(c.manifest, shared_ns)
        kinds[c.kind] += 1
        answers["accepted" if code < 300 else "refused"] += 1
        wrong = check_refusal(c, code, message)
        assert wrong is None, wrong

    one()
    figures.put("manifests tried", sum(kinds.values()))
    figures.put("accepted", answers["accepted"])
    figures.put("refused", answers["refused"])
    figures.put("defects", dict(kinds))
    figures.put("seconds", time.monotonic() - started)
    assert sum(kinds.values()) >= examples * 0.95  # hypothesis ran them all (or nearly)
    assert log_errors(operator.log_path, log_mark) == []


def reconciled_whole_or_not_at_all(snap: Snapshot, name: str) -> str | None:
    """None when the Formation is settled as the property wants it, else what is wrong."""
    f = snap.formations.get(name)
    if f is None or not settled(f):
        return f"{name}: not settled"
    reconciled = condition(f, "Reconciled") or {}
    owned = snap.owned_by(f)
    if reconciled.get("status") == "True":
        return whole(snap, f)
    if any(owned.values()):
        why = f"{reconciled.get('reason')}: {str(reconciled.get('message'))[:300]}"
        return f"{name}: Reconciled=False ({why}) but owns {owned}"
    return None


def whole(snap: Snapshot, formation: Obj) -> str | None:
    """Reconciled=True holds: exactly the expected children, each of one owner, every
    Deployment at its quantity. (Whether the dynos then fit on the nodes is the scheduler's
    business: this is about what the operator applied.)"""
    name = formation["metadata"]["name"]
    want, have = expected_children(formation), snap.owned_by(formation)
    if want != have:
        return f"{name}: Reconciled=True but owns {have}, expected {want}"
    for ptype, process in formation["spec"]["processes"].items():
        dep = snap.children["Deployment"][f"{name}-{ptype}"]
        if dep["spec"]["replicas"] != quantity(ptype, process):
            return f"{name}-{ptype}: replicas {dep['spec']['replicas']}"
    for kind, names in have.items():
        for child in names:
            refs = snap.children[kind][child]["metadata"].get("ownerReferences") or []
            if len(refs) != 1:
                return f"{kind} {child}: owners {refs}"
    return None


def settle(kube: Client, namespace: str, names: list[str]) -> tuple[Snapshot, list[str]]:
    """Wait until every Formation is as the property wants it; give up early once every one
    has been reported on and the same ones stay half-applied for 15 s."""
    deadline, wrong, same_since = time.monotonic() + SETTLE_SECONDS, ["not read"], 0.0
    while time.monotonic() < deadline:
        snap = Snapshot.read(kube, namespace)
        now = [w for n in names if (w := reconciled_whole_or_not_at_all(snap, n))]
        if not now:
            return snap, []
        final = all("but owns" in w for w in now)
        reported = all(n in snap.formations and settled(snap.formations[n]) for n in names)
        if now != wrong or not final or not reported:
            same_since = time.monotonic()
        elif time.monotonic() - same_since > 15:
            return snap, now
        wrong = now
        time.sleep(1)
    return snap, wrong


def create_batch(api: Api, namespace: str, batch: list[Obj]) -> list[str]:
    """Create each manifest for real; the names of those the API server accepted."""

    def one(manifest: Obj) -> str | None:
        code, _ = api.post(manifest, namespace, dry_run=False)
        return manifest["metadata"]["name"] if code < 300 else None

    with ThreadPoolExecutor(WORKERS) as pool:
        return [n for n in pool.map(one, batch) if n is not None]


def test_every_accepted_manifest_is_reconciled_whole_or_not_at_all(
    operator: Operator, api: Api, kube: Client, budget: Budget
) -> None:
    figures, outcomes = Figures("fuzz created"), Counter[str]()
    started, log_mark = time.monotonic(), log_size(operator)
    batches = max(1, budget.created_manifests // BATCH)

    @settings(
        max_examples=batches,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        batch=st.lists(
            formation(small=True),
            min_size=BATCH,
            max_size=BATCH,
            unique_by=lambda m: str(m["metadata"]["name"]),
        )
    )
    def one(batch: list[Obj]) -> None:
        with scratch_namespace(kube, "fz") as ns:
            manifests = [put(m, ("metadata", "namespace"), ns) for m in batch]
            created = create_batch(api, ns, manifests)
            outcomes["created"] += len(created)
            snap, wrong = settle(kube, ns, created)
            assert wrong == [], "\n".join(wrong[:10])
            for name in created:
                reconciled = condition(snap.formations[name], "Reconciled") or {}
                outcomes[f"Reconciled={reconciled.get('status')} {reconciled.get('reason')}"] += 1
                kids = sum(len(v) for v in expected_children(snap.formations[name]).values())
                outcomes["children"] += kids if reconciled.get("status") == "True" else 0

    one()
    for key, value in sorted(outcomes.items()):
        figures.put(key, value)
    figures.put("seconds", time.monotonic() - started)
    assert outcomes["created"] >= budget.created_manifests * 0.9
    assert log_errors(operator.log_path, log_mark) == []


# --- Odd input, by hand ---------------------------------------------------------------------


def body(**spec: Any) -> Obj:
    return formation_body(name="odd", namespace="default", **spec)


ODD_REFUSED = [
    pytest.param(
        body(processes={f"p{i}": {"command": "x"} for i in range(1000)}),
        "spec.processes: Too many: 1000: must have at most 64 items",
        id="1000 process types",
    ),
    pytest.param(
        body(processes={"web": {"command": "x" * 1_000_000}}),
        "spec.processes.web.command: Too long: may not be more than 32768 bytes",
        id="a 1 MB command",
    ),
    pytest.param(
        {**body(), "metadata": {"name": "ünïcødé-🚀", "namespace": "default"}},
        "metadata.name: Invalid value",
        id="a Unicode name",
    ),
    pytest.param(
        {**body(), "metadata": {"name": "a" * 254, "namespace": "default"}},
        "must be no more than 253 characters",
        id="a 254-character name",
    ),
    pytest.param(
        {**body(), "metadata": {"name": "a" * 100_000, "namespace": "default"}},
        "metadata.name: Invalid value",
        id="a 100,000-character name",
    ),
    pytest.param(
        body(processes={"wéb-🚀": {"command": "x"}}),
        "invalid process type names: wéb-🚀",
        id="a Unicode process type",
    ),
    pytest.param(
        body(processes={"w" * 10_000: {"command": "x"}}),
        "process type names hold at most 30 characters",
        id="a 10,000-character process type",
    ),
    pytest.param(
        body(image="i" * 1025),
        "spec.image: Too long: may not be more than 1024 bytes",
        id="an image name too long",
    ),
    pytest.param(
        body(env={"ÜNICODE": "x"}),
        "spec.env: Invalid value: config var names may hold letters",
        id="a Unicode config var name",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 1001}}),
        "spec.processes.web.quantity: Invalid value: 1001",
        id="a quantity one beyond 1000",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 2**63 - 1}}),
        "spec.processes.web.quantity: Invalid value",
        id="the largest 64-bit quantity",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 2**64}}),
        "quantity",
        id="a quantity beyond 64 bits",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": -(2**63)}}),
        "spec.processes.web.quantity: Invalid value",
        id="the smallest 64-bit quantity",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 1e300}}),
        "spec.processes.web.quantity",
        id="a float quantity",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "port": 65536}}),
        "spec.processes.web.port: Invalid value: 65536",
        id="a port beyond 65535",
    ),
    # Kubernetes refuses these in a Deployment: refused at apply time, never half-applied.
    pytest.param(
        body(image=" registry.example/shop:v1"),
        'spec.image: Invalid value: " registry.example/shop:v1": an image has no whitespace',
        id="an image with a leading space",
    ),
    pytest.param(
        body(envFrom=[{"secretRef": {"name": "My_Secret"}}]),
        "spec.envFrom[0].secretRef.name in body should match '^[a-z0-9]",
        id="a Secret name that is no DNS subdomain",
    ),
    pytest.param(
        body(envFrom=[{"configMapRef": {"name": "c"}, "prefix": "A="}]),
        "spec.envFrom[0].prefix in body should match",
        id="an envFrom prefix with '='",
    ),
    pytest.param(
        body(security={"runAsUser": 2**31}),
        "spec.security.runAsUser: Invalid value: 2147483648",
        id="a user id beyond 31 bits",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 11, "size": "performance-l"}}),
        "Cannot run more than 10 Performance-L dynos per process type (web=11)",
        id="performance-l one beyond its limit of 10",
    ),
]


@pytest.mark.parametrize(("manifest", "message"), ODD_REFUSED)
def test_odd_input_is_refused_with_a_clear_message(
    operator: Operator, api: Api, shared_ns: str, manifest: Obj, message: str
) -> None:
    namespace = shared_ns
    code, answer = api.post(put(manifest, ("metadata", "namespace"), namespace), namespace)
    assert 400 <= code < 500, (code, answer[:1000])
    assert message in answer, answer[:1000]
    assert operator.proc is not None
    assert operator.proc.poll() is None


ODD_ACCEPTED = [
    pytest.param(
        body(
            processes={f"p{i:02d}": {"command": f"run {i}", "quantity": i % 2} for i in range(64)}
        ),
        id="64 process types, the most",
    ),
    pytest.param(
        formation_body(
            name="n" * 61, namespace="default", processes={"w": {"command": "x", "quantity": 1}}
        ),
        id="a 61-character name with a 1-character type, the longest child name",
    ),
    pytest.param(
        body(processes={"w" * 30: {"command": "x"}, "web": {"command": "y"}}),
        id="a 30-character process type",
    ),
    pytest.param(
        body(
            # The longest odd reference a runtime still pulls: a port, deep paths, a digest.
            image="Registry.Example:5000/a__b/c--d/e.f:V1_x-y@sha256:" + "a" * 64,
            env={f"VAR_{i}": "✓ ünïcødé " * 20 for i in range(1024)},
            processes={"web": {"command": "écho 🚀 " * 4000, "quantity": 1}},
        ),
        id="1024 config vars, Unicode everywhere, an odd image, a 32 KB command",
    ),
    pytest.param(
        body(processes={"web": {"command": "x", "quantity": 0}, "worker": {"command": "y"}}),
        id="no dynos at all",
    ),
]


@pytest.mark.parametrize("manifest", ODD_ACCEPTED)
def test_odd_but_valid_input_is_reconciled_whole(
    operator: Operator, api: Api, kube: Client, manifest: Obj
) -> None:
    log_mark = log_size(operator)
    with scratch_namespace(kube, "odd") as ns:
        code, answer = api.post(put(manifest, ("metadata", "namespace"), ns), ns, dry_run=False)
        assert code < 300, answer[:1000]
        name = manifest["metadata"]["name"]
        snap, wrong = settle(kube, ns, [name])
        assert wrong == [], wrong
        assert condition(snap.formations[name], "Reconciled")["status"] == "True"  # type: ignore[index]
        wait_converged(kube, ns, SETTLE_SECONDS)  # and Ready: every dyno Running
    assert log_errors(operator.log_path, log_mark) == []


def full_manifest() -> Obj:
    """Every field of the API set once, so a wrong type can go into each."""
    return formation_body(
        name="full",
        namespace="default",
        imagePullSecrets=[{"name": "creds"}],
        env={"RAILS_ENV": "production"},
        envFrom=[{"secretRef": {"name": "s"}, "prefix": "S_"}, {"configMapRef": {"name": "c"}}],
        processes={
            "web": {
                "command": "serve",
                "quantity": 2,
                "size": "standard-2x",
                "singleton": False,
                "port": 5000,
                "critical": True,
                "env": {"A": "b"},
            },
            "clock": {"command": "tick", "quantity": 1},
        },
        spread={"whenUnsatisfiable": "DoNotSchedule"},
        security={
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": False,
        },
    )


WRONG_VALUES = {
    str: [7, True, ["x"]],
    int: ["7", True, 1.5],
    bool: ["yes", 0],
    dict: ["x", [1]],
    list: ["x", {}],
}


def wrong_type_cases() -> Iterator[Any]:
    manifest = full_manifest()
    for path, value in leaves(manifest):
        kind = bool if isinstance(value, bool) else type(value)
        for wrong in WRONG_VALUES[kind]:
            bad = Case(put(manifest, path, wrong), "wrong type", path)
            yield pytest.param(bad, id=f"{'.'.join(map(str, path))}={json.dumps(wrong)}")


def test_the_full_manifest_is_valid(operator: Operator, api: Api, shared_ns: str) -> None:
    namespace = shared_ns
    code, answer = api.post(put(full_manifest(), ("metadata", "namespace"), namespace), namespace)
    assert code < 300, answer


@pytest.mark.parametrize("c", list(wrong_type_cases()))
def test_a_wrong_type_in_any_field_is_refused_naming_the_field(
    operator: Operator, api: Api, shared_ns: str, c: Case
) -> None:
    namespace = shared_ns
    code, message = api.post(put(c.manifest, ("metadata", "namespace"), namespace), namespace)
    assert check_refusal(c, code, message) is None, check_refusal(c, code, message)


def test_strings_reach_the_dynos_exactly_and_keep_the_watches_whole(
    operator: Operator, installed, api: Api, kube: Client
) -> None:
    """Characters JSON carries raw but YAML and httpx's line reader do not: server-side apply
    bodies escape them, and a watch event holding a NEL keeps its watch whole."""
    awkward = "del \x7f nel \x85 csi \x9b ls \u2028 ps \u2029 nonchar \ufffe emoji 🚀"
    manifest = body(env={"AWKWARD": awkward}, processes={"web": {"command": f"echo '{awkward}'"}})
    with scratch_namespace(kube, "wire") as ns:
        code, answer = api.post(put(manifest, ("metadata", "namespace"), ns), ns, dry_run=False)
        assert code < 300, answer
        wait_converged(kube, ns, 60)
        dep = get(kube, Deployment, "odd-web", ns) or {}
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][-1] == f"echo '{awkward}'"
        assert {"name": "AWKWARD", "value": awkward} in container["env"]
        log_mark = log_size(operator)
        installed.kubectl("scale", "-n", ns, "deployment/odd-web", "--replicas=3")
        eventually(
            lambda: (get(kube, Deployment, "odd-web", ns) or {})["spec"]["replicas"] == 1,
            timeout=2.0,
            interval=0.05,
            what="the drift set back within 2 s",
        )
        wait_converged(kube, ns, 60)
        with operator.log_path.open("rb") as f:
            f.seek(log_mark)
            assert b"Watch of" not in f.read()
