"""The admission webhook wired as the Helm chart wires it: the operator serves with a given
certificate (--webhook-listen), the installer owns the webhook configuration. Here it points
at 127.0.0.1, so admission is part of every figure, and a restart re-registers nothing."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

from dynoform.operator import tls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configurations(port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    hook = {
        "name": "formations.dyno.dev",
        "clientConfig": {
            "url": f"https://127.0.0.1:{port}/formations",
            "caBundle": base64.b64encode(ca_pem).decode(),
        },
        "rules": [
            {
                "apiGroups": ["dyno.dev"],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["formations"],
            }
        ],
        "failurePolicy": "Ignore",
        "sideEffects": "None",
        "timeoutSeconds": 5,
        "reinvocationPolicy": "IfNeeded",
        "admissionReviewVersions": ["v1"],
    }
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "dynoform-bench"},
            "webhooks": [hook],
        },
    ]


def install(kubectl: list[str], env: dict[str, str], work: Path) -> tuple[str, ...]:
    """Create the configurations; return the operator's arguments to serve them."""
    port = free_port()
    cert = tls.self_signed(work / "webhook-tls")
    docs = {"apiVersion": "v1", "kind": "List", "items": configurations(port, cert.ca_pem)}
    subprocess.run(
        [*kubectl, "apply", "-f", "-"],
        input=json.dumps(docs),
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    return ("--webhook-listen", f"127.0.0.1:{port}", "--webhook-tls-dir", str(cert.certfile.parent))
