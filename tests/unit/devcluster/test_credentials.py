"""Certificates carry the identities Kubernetes reads (CN user, O groups); kubeconfigs are self-contained."""

from __future__ import annotations

import base64
import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sextant_devcluster import pki
from sextant_devcluster.kubeconfig import build_kubeconfig


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.create_ca()


def test_client_certificate_names_user_and_groups(ca: pki.KeyPair) -> None:
    pair = pki.issue_certificate(ca, "alice", organizations=("team-a", "team-b"), client=True)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    groups = {a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)}
    assert groups == {"team-a", "team-b"}
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_serving_certificate_covers_loopback_and_service_names(ca: pki.KeyPair) -> None:
    pair = pki.issue_certificate(ca, "kube-apiserver", dns_names=("localhost",),
                                 ip_addresses=("127.0.0.1",), server=True)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)


def test_kubeconfig_with_token_or_certificate(ca: pki.KeyPair) -> None:
    by_token = build_kubeconfig("https://127.0.0.1:6443", ca.cert_pem, "sa", token="abc", namespace="ns1")
    assert by_token["users"][0]["user"] == {"token": "abc"}
    assert by_token["contexts"][0]["context"]["namespace"] == "ns1"
    cluster = by_token["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.cert_pem
    pair = pki.issue_certificate(ca, "bob", client=True)
    by_cert = build_kubeconfig("https://127.0.0.1:6443", ca.cert_pem, "bob", cert_pem=pair.cert_pem,
                               key_pem=pair.key_pem)
    assert base64.b64decode(by_cert["users"][0]["user"]["client-key-data"]) == pair.key_pem


def test_kubeconfig_without_credentials_is_refused(ca: pki.KeyPair) -> None:
    with pytest.raises(ValueError, match="token or both a client certificate and key"):
        build_kubeconfig("https://127.0.0.1:6443", ca.cert_pem, "nobody")
