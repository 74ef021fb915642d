"""How the operator logs in to the API server: in a pod, at the address the kubelet gives it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dynoform.operator import handlers


def test_in_a_pod_the_operator_logs_in_at_the_address_the_kubelet_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not https://kubernetes.default.svc, kopf's default: a name that needs cluster DNS.
    (tmp_path / "token").write_text("t0ken\n")
    (tmp_path / "namespace").write_text("dynoform-system")
    monkeypatch.setattr(handlers, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    info = asyncio.run(handlers.login())
    assert info is not None
    assert (info.server, info.token) == ("https://10.96.0.1:443", "t0ken")
    assert info.default_namespace == "dynoform-system"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    ipv6 = asyncio.run(handlers.login())
    assert ipv6 is not None
    assert ipv6.server == "https://[fd00::1]:443"
