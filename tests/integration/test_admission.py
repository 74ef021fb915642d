"""Admission against the real API server, in the API server itself (the admission policies of
dynoform.api.admission, no webhook): the size catalog's rules at apply time, and who changed the
formation (Events and history); and the optional webhook for clusters without
MutatingAdmissionPolicy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client

from dynoform.api.admission import CATALOG_POLICY, STAMP_POLICY
from dynoform.api.sizes import Catalog, SizeError, check
from dynoform.api.v1alpha1 import FormationSpec
from dynoform.runtime.resources import RESOURCES
from localcluster.operator import OPERATOR_USER, ROOT, Operator, wait_for_admission
from tests.factories import formation_body
from tests.integration.test_operator import create, wait_ready
from tests.kubehelp import (
    Formation,
    apply_yaml,
    events_for,
    eventually,
    get,
)


def body_with(namespace: str, **spec: Any) -> dict[str, Any]:
    return formation_body(name="shop", namespace=namespace, **spec)


def processes(**types: tuple[str, int]) -> dict[str, Any]:
    return {t: {"command": "run", "size": size, "quantity": q} for t, (size, q) in types.items()}


REFUSED = [
    pytest.param(
        processes(web=("huge-9x", 1)),
        "No such size as huge-9x (process type web). Available dyno sizes are eco, basic, "
        "standard-1x, standard-2x, performance-m, performance-l",
        id="an unknown size",
    ),
    pytest.param(
        processes(web=("eco", 2)),
        "Cannot run more than 1 Eco dyno per process type (web=2). Upgrade to a larger dyno "
        "first before adding more dynos.",
        id="eco above one dyno",
    ),
    pytest.param(
        processes(web=("performance-l", 11)),
        "Cannot run more than 10 Performance-L dynos per process type (web=11).",
        id="above a size's maximum",
    ),
    pytest.param(
        processes(web=("basic", 1), worker=("standard-2x", 1)),
        "Cannot use the following dyno types in the same app: Basic and Standard-2X",
        id="basic mixed with standard",
    ),
]


@pytest.mark.parametrize(("procs", "message"), REFUSED)
def test_the_catalogs_rules_refuse_at_apply_time_with_herokus_wording(
    operator, installed, namespace: str, procs: dict[str, Any], message: str
) -> None:
    result = apply_yaml(installed.kubectl, body_with(namespace, processes=procs), check=False)
    assert result.returncode != 0, "accepted"
    assert f"ValidatingAdmissionPolicy '{CATALOG_POLICY}'" in result.stderr
    assert message in result.stderr
    # The CLI's own check (dynoform.api.sizes) says the same.
    spec = FormationSpec.model_validate({"image": "shop:v1", "processes": procs})
    with pytest.raises(SizeError, match=re.escape(message)):
        check(spec, Catalog())


def test_a_scale_beyond_the_catalog_is_refused_and_changes_nothing(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=processes(worker=("performance-m", 2)))
    wait_ready(kube, namespace)
    result = installed.kubectl(
        "patch",
        "-n",
        namespace,
        "formation/shop",
        "--type=merge",
        "-p",
        '{"spec":{"processes":{"worker":{"quantity":12}}}}',
        check=False,
    )
    assert result.returncode != 0
    assert "Cannot run more than 10 Performance-M dynos per process type" in result.stderr
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    assert f["spec"]["processes"]["worker"]["quantity"] == 2


def test_accepted_formations_include_an_admins_dyno_size(
    operator, installed, namespace: str
) -> None:
    size = {
        "apiVersion": "dyno.dev/v1alpha1",
        "kind": "DynoSize",
        "metadata": {"name": f"{namespace}-gpu"},
        "spec": {
            "tier": "gpu",
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "4", "memory": "16Gi"},
            "maxQuantity": 2,
        },
    }
    apply_yaml(installed.kubectl, size)
    try:
        ok = body_with(namespace, processes=processes(train=(f"{namespace}-gpu", 2)))
        eventually(
            lambda: (
                apply_yaml(installed.kubectl, ok, "--dry-run=server", check=False).returncode == 0
            ),
            what="a Formation on the new size accepted",
        )
        over = body_with(namespace, processes=processes(train=(f"{namespace}-gpu", 3)))
        result = apply_yaml(installed.kubectl, over, "--dry-run=server", check=False)
        assert "Cannot run more than 2" in result.stderr
    finally:
        installed.kubectl("delete", "dynosize", size["metadata"]["name"], "--wait=false")


def as_user(installed, user: str, *args: str, input: str | None = None) -> None:
    # Impersonated by the admin; system:masters so that RBAC is not what this test is about.
    installed.kubectl(*args, f"--as={user}", "--as-group=system:masters", input=input)


def create_as(installed, user: str, namespace: str, **types: tuple[str, int]) -> None:
    body = body_with(namespace, processes=processes(**types))
    as_user(installed, user, "apply", "-f", "-", input=yaml.safe_dump(body))


def patch_as(installed, user: str, namespace: str, spec: str) -> None:
    as_user(installed, user, "patch", "-n", namespace, "formation/shop", "--type=merge", "-p", spec)


def test_each_change_is_recorded_with_its_user_as_herokus_log_line_and_in_the_history(
    operator, installed, kube: Client, namespace: str
) -> None:
    create_as(
        installed, "alice@example.com", namespace, web=("standard-1x", 2), worker=("standard-1x", 1)
    )
    wait_ready(kube, namespace)
    patch_as(
        installed, "bob@example.com", namespace, '{"spec":{"processes":{"worker":{"quantity":3}}}}'
    )
    wait_ready(kube, namespace)

    def scaled() -> list[str]:
        events = events_for(kube, namespace, "shop")
        return sorted(e["message"] for e in events if e["reason"] == "Scaled")

    expected = [
        "Scale to web=2, worker=1 by alice@example.com",
        "Scale to web=2, worker=3 by bob@example.com",
    ]
    eventually(lambda: scaled() == expected, what=f"Scaled events {expected}")
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    history = [(h["by"], h["formation"]) for h in f["status"]["history"]]
    assert history == [
        ("alice@example.com", "web=2:standard-1x worker=1:standard-1x"),
        ("bob@example.com", "web=2:standard-1x worker=3:standard-1x"),
    ]


def test_a_change_that_is_no_scale_is_not_recorded(
    operator, installed, kube: Client, namespace: str
) -> None:
    create_as(installed, "alice@example.com", namespace, web=("standard-1x", 1))
    wait_ready(kube, namespace)
    patch_as(
        installed, "carol@example.com", namespace, '{"spec":{"image":"registry.example/shop:v2"}}'
    )
    wait_ready(kube, namespace)
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    assert [h["by"] for h in f["status"]["history"]] == ["alice@example.com"]
    assert f["metadata"]["annotations"]["dyno.dev/changed-by"] == "alice@example.com"


def test_admission_needs_no_webhook(operator, installed) -> None:
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        assert json.loads(installed.kubectl("get", kind, "-o", "json").stdout)["items"] == []
    bound = json.loads(
        installed.kubectl("get", "validatingadmissionpolicybindings", "-o", "json").stdout
    )
    by_name = {b["metadata"]["name"]: b["spec"] for b in bound["items"]}
    # One binding, every DynoSize a param.
    assert by_name[CATALOG_POLICY]["paramRef"]["selector"] == {}
    stamp = installed.kubectl("get", "mutatingadmissionpolicybinding", STAMP_POLICY, "-o", "json")
    assert json.loads(stamp.stdout)["spec"]["policyName"] == STAMP_POLICY


def test_with_the_operator_down_the_catalog_still_refuses_and_scales_are_still_stamped(
    operator, installed, kube: Client, namespace: str
) -> None:
    with operator.down():
        bad = body_with(namespace, processes=processes(web=("huge-9x", 1)))
        result = apply_yaml(installed.kubectl, bad, check=False)
        assert result.returncode != 0
        assert "No such size as huge-9x (process type web)" in result.stderr
        create_as(installed, "alice@example.com", namespace, web=("standard-1x", 2))
        f = get(kube, Formation, "shop", namespace)
        assert f is not None
        assert f["metadata"]["annotations"]["dyno.dev/changed-by"] == "alice@example.com"
    wait_ready(kube, namespace)
    f = get(kube, Formation, "shop", namespace)
    assert f is not None
    assert [h["by"] for h in f["status"]["history"]] == ["alice@example.com"]


def test_a_size_written_as_heroku_prints_it_is_the_catalogs_size(
    operator, installed, kube: Client, namespace: str
) -> None:
    create(installed, namespace, processes=processes(web=("Standard-2X", 2)))
    wait_ready(kube, namespace)
    deployment = get(kube, RESOURCES["Deployment"], "shop-web", namespace)
    assert deployment is not None
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "1Gi"
    result = apply_yaml(
        installed.kubectl,
        body_with(namespace, processes=processes(web=("Eco", 2))),
        check=False,
    )
    assert "Cannot run more than 1 Eco dyno per process type (web=2)" in result.stderr


def test_without_a_mutating_policy_the_optional_webhook_stamps_the_user(
    operator, installed, kube: Client, namespace: str, tmp_path: Path
) -> None:
    """Clusters that serve no MutatingAdmissionPolicy (before 1.34, or with the beta off) keep
    the history true with the operator's webhook (the chart's `webhooks.enabled`)."""
    policy = ROOT / "deploy" / "stamp-policy.yaml"
    installed.kubectl("delete", "-f", str(policy))
    local = installed.local
    kubeconfig = str(local.kubeconfig_for(OPERATOR_USER)) if local else installed.kubeconfig
    webhook = Operator(kubeconfig, tmp_path / "webhook.log", extra_args=("--webhook-port", "0"))
    try:
        with operator.down():
            webhook.start()
            try:
                eventually(
                    lambda: (
                        installed.kubectl(
                            "get", "mutatingwebhookconfiguration", "dyno.dev", check=False
                        ).returncode
                        == 0
                    ),
                    what="the webhook registered",
                )
                create_as(installed, "alice@example.com", namespace, web=("standard-1x", 1))
                wait_ready(kube, namespace)
                patch_as(
                    installed,
                    "bob@example.com",
                    namespace,
                    '{"spec":{"processes":{"web":{"quantity":2}}}}',
                )
                wait_ready(kube, namespace)
                f = get(kube, Formation, "shop", namespace)
                assert f is not None
                history = [h["by"] for h in f["status"]["history"]]
                assert history == ["alice@example.com", "bob@example.com"]
            finally:
                webhook.stop()
                for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
                    installed.kubectl("delete", kind, "dyno.dev", "--ignore-not-found")
    finally:
        installed.kubectl("apply", "--server-side", "-f", str(policy))
        wait_for_admission(installed.kubectl)


def test_dyno_ps_history_prints_who_changed_what(
    operator, installed, kube: Client, namespace: str
) -> None:
    create_as(installed, "alice@example.com", namespace, web=("standard-1x", 1))
    wait_ready(kube, namespace)
    patch_as(
        installed, "bob@example.com", namespace, '{"spec":{"processes":{"web":{"quantity":2}}}}'
    )
    wait_ready(kube, namespace)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dyno"), "ps:history", "-a", "shop", "-n", namespace],
        capture_output=True,
        text=True,
        env=installed.env(),
        check=True,
    )
    lines = result.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "dyno[api]: Scale to web=1:standard-1x by alice@example.com",
        "dyno[api]: Scale to web=2:standard-1x by bob@example.com",
    ]
