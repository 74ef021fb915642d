"""Fixtures that run dynoform as users run it: CRDs and RBAC installed, `python -m dynoform`
in a subprocess under its own least-privilege identity (local control plane), one namespace per
test. The operator's writes are counted from the API server's audit log when the local control
plane keeps one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from localcluster.audit import AuditLog
from localcluster.operator import OPERATOR_USER, Operator, install, wait_for_catalog


@pytest.fixture(scope="session")
def installed(cluster):  # type: ignore[no-untyped-def]
    """dynoform installed as without the chart: CRDs, admission policies, the built-in sizes,
    the operator's RBAC."""
    install(cluster.kubectl)
    return cluster


@pytest.fixture(scope="session")
def operator(installed, tmp_path_factory):  # type: ignore[no-untyped-def]
    """dynoform running for the session (as `dynoform-operator` on the local control plane)."""
    local = installed.local
    kubeconfig = str(local.kubeconfig_for(OPERATOR_USER)) if local else installed.kubeconfig
    op = Operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    wait_for_catalog(installed.kubectl)
    yield op
    op.stop()
    print(f"\n--- operator log tail ---\n{op.log_tail()}")


@pytest.fixture(scope="session")
def audit(installed) -> AuditLog:  # type: ignore[no-untyped-def]
    """The local API server's audit log of writes (only the local control plane keeps one)."""
    if installed.local is None:
        pytest.skip("counting writes needs the local control plane's audit log")
    return AuditLog(installed.local.layout.audit_log)


@pytest.fixture(scope="session")
def kube(installed) -> Client:  # type: ignore[no-untyped-def]
    return Client(field_manager="dynoform-tests")


@pytest.fixture
def namespace(kube: Client) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    kube.delete(Namespace, name)
