"""The component command lines keep everything on loopback with TLS, RBAC and SA token signing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sextant_devcluster.commands import COMPONENTS, component_command
from sextant_devcluster.layout import Layout, Ports

PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257, scheduler=10259,
              kwok=10247)
LAYOUT = Layout(Path("/state"))


def _flags(component: str) -> dict[str, str]:
    argv = component_command(component, Path("/bin"), LAYOUT, PORTS)
    return dict(arg[2:].split("=", 1) for arg in argv[1:] if "=" in arg)


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_listens_on_loopback_only(component: str) -> None:
    argv = " ".join(component_command(component, Path("/bin"), LAYOUT, PORTS))
    assert not re.search(r"(?<![\d.])0\.0\.0\.0", argv) and "[::]" not in argv
    assert "127.0.0.1" in argv


def test_apiserver_has_tls_rbac_and_service_account_signing() -> None:
    flags = _flags("kube-apiserver")
    assert flags["authorization-mode"] == "RBAC"
    assert flags["client-ca-file"] == "/state/pki/ca.pem"
    assert flags["tls-cert-file"].endswith("apiserver.pem")
    assert flags["service-account-signing-key-file"] == "/state/pki/sa-key.pem"
    assert flags["secure-port"] == "6443"
    assert flags["etcd-servers"] == "http://127.0.0.1:2379"


def test_controller_manager_signs_tokens_with_the_apiserver_key() -> None:
    flags = _flags("kube-controller-manager")
    assert flags["service-account-private-key-file"] == "/state/pki/sa-key.pem"
    assert flags["root-ca-file"] == "/state/pki/ca.pem"
    assert flags["use-service-account-credentials"] == "true"


def test_components_get_separate_serving_cert_dirs() -> None:
    assert _flags("kube-controller-manager")["cert-dir"] != _flags("kube-scheduler")["cert-dir"]


def test_unknown_component_is_refused() -> None:
    with pytest.raises(KeyError):
        component_command("kubelet", Path("/bin"), LAYOUT, PORTS)
