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
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
API_SERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write `<name>.crt` and `<name>.key` (mode 0600) and return their paths."""
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(self.key_pem)
        return cert, key

    @classmethod
    def read(cls, directory: Path, name: str) -> CertKey:
        cert, key = directory / f"{name}.crt", directory / f"{name}.key"
        return cls(cert.read_bytes(), key.read_bytes())


def _key_pem(key: SigningKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _leaf_usage(server: bool) -> x509.ExtendedKeyUsage:
    oid = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    return x509.ExtendedKeyUsage([oid])


class CertificateAuthority:
    """A self-signed CA that issues serving and client certificates."""

    def __init__(self, key: SigningKey, cert: x509.Certificate) -> None:
        self._key = key
        self.cert = cert

    @classmethod
    def create(cls, common_name: str = "dynoform-local-ca") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        cert = (
            _builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def from_pem(cls, pair: CertKey) -> CertificateAuthority:
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"unsupported CA key type {type(key).__name__}")
        return cls(key, x509.load_pem_x509_certificate(pair.cert_pem))

    @property
    def pem(self) -> CertKey:
        return CertKey(self.cert.public_bytes(serialization.Encoding.PEM), _key_pem(self._key))

    def issue_server(self, common_name: str, dns: Sequence[str], ips: Sequence[str]) -> CertKey:
        """A serving certificate valid for the given DNS names and IP addresses."""
        sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        return self._issue(_name(common_name), server=True, sans=sans)

    def issue_client(self, user: str, groups: Sequence[str] = ()) -> CertKey:
        """A client certificate: Kubernetes reads the user from CN and the groups from O."""
        return self._issue(_name(user, groups), server=False, sans=[])

    def _issue(self, subject: x509.Name, server: bool, sans: list[x509.GeneralName]) -> CertKey:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(subject, self.cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(_leaf_usage(server), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return CertKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def service_account_key_pair() -> CertKey:
    """An RSA key pair for signing service-account tokens (`cert_pem` holds the public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CertKey(public, _key_pem(key))


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
