"""The local control plane's PKI: one CA, the certificates it signs, and kubeconfigs.

Owns every key and certificate of a LocalCluster: the CA (which also signs CSRs through the
controller-manager), the kube-apiserver's serving certificate, one client certificate per
component and for the admin, and the service-account key pair. Tests mint certificates for other
users and groups with `ClusterPki.kubeconfig_for` to act as someone without `system:masters`.

Certificate keys are ECDSA P-256 (fast to generate; every component accepts them); the
service-account signing key is RSA because that is what the token issuer expects by default.
Everything is written as PEM files into one directory, so a detached cluster can be found again.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dynoform.operator.tls import CertificateAuthority, CertKey, key_pem

API_SERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


def service_account_key_pair() -> CertKey:
    """An RSA key pair for signing service-account tokens (`cert_pem` holds the public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CertKey(public, key_pem(key))


def kubeconfig(server: str, ca_pem: bytes, client: CertKey, user: str) -> dict[str, Any]:
    """A kubeconfig with everything inline (no paths), so it can be copied anywhere."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(client.cert_pem),
                    "client-key-data": b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": "local", "user": user}}],
        "current-context": user,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, ca_pem: bytes, client: CertKey, user: str) -> Path:
    """Write an inline-data kubeconfig (mode 0600) for `client` and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(kubeconfig(server, ca_pem, client, user), sort_keys=False))
    return path


# The identities of the control plane's own clients; the bootstrap RBAC policy knows the first two.
COMPONENT_USERS = {
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok", ("system:masters",)),
    "admin": ("admin", ("system:masters",)),
    # The API server's identity towards kubelets (logs, exec, attach, port-forward).
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ("system:masters",)),
}


@dataclass(frozen=True)
class ClusterPki:
    """All the PEM files of one cluster, kept in `directory`."""

    directory: Path

    @classmethod
    def create(cls, directory: Path, service_ip: str, node_name: str, node_ip: str) -> ClusterPki:
        """Generate the CA, serving, component and service-account credentials into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.create()
        ca.pem.write(directory, "ca")
        serving = ca.issue_server("kube-apiserver", API_SERVER_DNS_NAMES, ["127.0.0.1", service_ip])
        serving.write(directory, "apiserver")
        for name, (user, groups) in COMPONENT_USERS.items():
            ca.issue_client(user, groups).write(directory, name)
        service_account_key_pair().write(directory, "sa")
        # The real node's kubelet, as the Node authorizer knows kubelets, and its serving cert.
        ca.issue_client(f"system:node:{node_name}", ["system:nodes"]).write(directory, "kubelet")
        ca.issue_server(node_name, [node_name], [node_ip]).write(directory, "kubelet-serving")
        (directory / "sa.crt").rename(directory / "sa.pub")
        return cls(directory)

    def path(self, name: str) -> Path:
        """A file of this PKI, such as `ca.crt`, `apiserver.key` or `sa.pub`."""
        return self.directory / name

    @property
    def ca_pem(self) -> bytes:
        return self.path("ca.crt").read_bytes()

    def client(self, name: str) -> CertKey:
        """The stored client credentials of a component or of `admin`."""
        return CertKey.read(self.directory, name)

    def issue_client(self, user: str, groups: Sequence[str] = ()) -> CertKey:
        """Mint a new client certificate for `user` in `groups`."""
        ca = CertificateAuthority.from_pem(CertKey.read(self.directory, "ca"))
        return ca.issue_client(user, groups)

    def issue_server(
        self, common_name: str, dns: Sequence[str] = ("localhost",), ips: Sequence[str] = ()
    ) -> CertKey:
        """Mint a serving certificate (e.g. for an admission webhook on 127.0.0.1)."""
        ca = CertificateAuthority.from_pem(CertKey.read(self.directory, "ca"))
        return ca.issue_server(common_name, dns, ips or ["127.0.0.1"])

    def kubeconfig_for(
        self, path: Path, server: str, user: str, groups: Sequence[str] = ()
    ) -> Path:
        """Mint a certificate for `user` in `groups` and write a kubeconfig that uses it."""
        return write_kubeconfig(path, server, self.ca_pem, self.issue_client(user, groups), user)
