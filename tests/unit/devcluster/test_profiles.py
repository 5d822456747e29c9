"""Cluster profiles: the `scale` profile has room for 1,000 InferenceServices of
two controllers at once (Sextant's with router pods), a Service range wider
than a /24 and a faster controller-manager client; the default profile changes nothing."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from sextant_devcluster.commands import component_command
from sextant_devcluster.layout import FAKE_NODE_IP, FAKE_POD_CIDR, POD_CIDR, SERVICE_CLUSTER_IP_RANGE, Layout, Ports
from sextant_devcluster.nodes import large_fake_nodes
from sextant_devcluster.profiles import DEFAULT, SCALE, nodes_needed, profile_named, service_cidr

PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257, scheduler=10259,
              kwok=10247)


def _quantity_gi(value: str) -> int:
    assert value.endswith("Gi")
    return int(value[:-2])


def test_scale_nodes_hold_four_thousand_sklearn_pods() -> None:
    nodes = large_fake_nodes(SCALE)
    capacity = [n["status"]["allocatable"] for n in nodes]
    assert sum(int(c["pods"]) for c in capacity) >= 4000
    assert sum(int(c["cpu"]) for c in capacity) >= 4000  # KServe's sklearn runtime asks 1 CPU per pod
    assert sum(_quantity_gi(c["memory"]) for c in capacity) >= 2 * 4000  # and 2 Gi
    assert len({n["metadata"]["name"] for n in nodes}) == len(nodes)
    assert nodes_needed(4000, SCALE.pods_per_node) <= SCALE.large_nodes


def test_scale_service_range_is_wider_and_overlaps_nothing_else() -> None:
    cidr = service_cidr(SCALE)
    assert cidr is not None and cidr["kind"] == "ServiceCIDR"
    (extra,) = (ipaddress.ip_network(c) for c in cidr["spec"]["cidrs"])
    assert extra.num_addresses >= 2 ** 16
    for other in (SERVICE_CLUSTER_IP_RANGE, POD_CIDR, FAKE_POD_CIDR, f"{FAKE_NODE_IP}/32"):
        assert not extra.overlaps(ipaddress.ip_network(other)), other


def test_scale_controller_manager_gets_a_faster_client() -> None:
    argv = component_command("kube-controller-manager", Path("/bin"), Layout(Path("/s")), PORTS, profile=SCALE)
    assert "--kube-api-qps=200" in argv and "--kube-api-burst=400" in argv


def test_default_profile_adds_nothing() -> None:
    argv = component_command("kube-controller-manager", Path("/bin"), Layout(Path("/s")), PORTS)
    assert not any(a.startswith("--kube-api-") for a in argv)
    assert large_fake_nodes(DEFAULT) == [] and service_cidr(DEFAULT) is None


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown cluster profile 'huge': use one of default, scale"):
        profile_named("huge")
