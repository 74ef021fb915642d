"""The local webhook's certificate: made where asked, for 127.0.0.1, signed by its own CA."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from dynoform.operator.tls import self_signed


def test_the_local_webhook_certificate_serves_127_0_0_1_and_chains_to_its_ca(
    tmp_path: Path,
) -> None:
    cert = self_signed(tmp_path / "not-yet-there")
    leaf = x509.load_pem_x509_certificate(cert.certfile.read_bytes())
    ca = x509.load_pem_x509_certificate(cert.ca_pem)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    assert cert.keyfile.stat().st_mode & 0o777 == 0o600
