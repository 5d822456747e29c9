"""The real node's configuration keeps its state in the cluster's directory and its traffic on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sextant_devcluster.commands import component_command
from sextant_devcluster.host_network import chains_to_purge, guard_rules
from sextant_devcluster.layout import NODE_IP, POD_CIDR, Layout, Ports
from sextant_devcluster.node_config import (
    cni_conflist,
    containerd_config,
    kube_proxy_config,
    kubelet_command,
    kubelet_config,
    node_files,
)
from sextant_devcluster.node_lock import NodeTaken, Ownership, check_free
from sextant_devcluster.nodes import FAKE_NODE_TOLERATION, default_fake_nodes

LAYOUT = Layout(Path("/state"))
IMAGE_CACHE = Path("/cache/containerd")
PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257, scheduler=10259,
              kwok=10247)


def _apiserver_flags(real_node: bool) -> dict[str, str]:
    argv = component_command("kube-apiserver", Path("/bin"), LAYOUT, PORTS, real_node)
    return dict(arg[2:].split("=", 1) for arg in argv[1:] if "=" in arg)


def test_node_files_live_in_the_state_directory_and_images_in_the_machines_cache() -> None:
    files = node_files(LAYOUT, "sextant.local/pause:abc", IMAGE_CACHE)
    assert all(str(path).startswith("/state/") for path in files)
    assert 'root = "/cache/containerd"' in files[LAYOUT.node_file("containerd.toml")]
    text = "\n".join(files.values())
    for machine_default in ("/var/lib/containerd", "/run/containerd/containerd.sock", "/var/lib/kubelet",
                            "/etc/cni/net.d", "/var/lib/cni/networks"):
        assert machine_default not in text


def test_containerd_runs_the_sandbox_image_it_was_given_and_restricts_oom_adjustment() -> None:
    config = containerd_config(LAYOUT, "sextant.local/pause:abc", IMAGE_CACHE)
    assert 'sandbox = "sextant.local/pause:abc"' in config
    assert "restrict_oom_score_adj = true" in config
    assert "SystemdCgroup = false" in config


def test_pods_get_addresses_on_the_bridge_and_are_not_masqueraded() -> None:
    bridge = cni_conflist(LAYOUT)["plugins"][0]
    assert bridge["ipam"]["ranges"] == [[{"subnet": POD_CIDR, "gateway": NODE_IP}]]
    assert bridge["ipMasq"] is False and bridge["isGateway"] is True


def test_kubelet_listens_on_the_node_address_with_client_certs_and_no_anonymous_access() -> None:
    config = kubelet_config(LAYOUT)
    assert config["address"] == NODE_IP and config["healthzBindAddress"] == "127.0.0.1"
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == "/state/pki/ca.pem"
    assert config["authorization"]["mode"] == "Webhook"
    assert config["resolvConf"] == ""  # no name server outside this machine
    assert "--node-ip=" + NODE_IP in kubelet_command(Path("/bin"), LAYOUT)


def test_kube_proxy_leaves_machine_settings_alone() -> None:
    config = kube_proxy_config(LAYOUT)
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["iptables"]["localhostNodePorts"] is False  # would set route_localnet
    assert config["nodePortAddresses"] == [f"{NODE_IP}/32"]
    json.dumps(config)


def test_with_a_real_node_the_apiserver_listens_on_the_node_address_and_authorizes_nodes() -> None:
    flags = _apiserver_flags(real_node=True)
    assert flags["bind-address"] == NODE_IP and flags["advertise-address"] == NODE_IP
    assert flags["authorization-mode"] == "Node,RBAC"
    assert "NodeRestriction" in flags["enable-admission-plugins"]
    assert flags["kubelet-client-certificate"].endswith("apiserver-kubelet-client.pem")
    assert "endpoint-reconciler-type" not in flags


@pytest.mark.parametrize("real_node", [True, False])
def test_owner_references_are_enforced_with_or_without_a_real_node(real_node: bool) -> None:
    assert "OwnerReferencesPermissionEnforcement" in _apiserver_flags(real_node)["enable-admission-plugins"]


def test_fake_nodes_are_tainted_only_when_a_real_node_takes_the_default_pods() -> None:
    tainted = default_fake_nodes(tainted=True)
    assert all(n["spec"]["taints"][0]["key"] == FAKE_NODE_TOLERATION["key"] for n in tainted)
    assert all("taints" not in n["spec"] for n in default_fake_nodes(tainted=False))


def test_guard_rejects_fake_addresses_and_pod_traffic_leaving_the_machine() -> None:
    rules = [" ".join(rule) for rule in guard_rules()]
    assert "-d 10.244.0.0/16 -j REJECT" in rules
    assert f"-s {POD_CIDR} ! -d {POD_CIDR} -j REJECT" in rules


def test_purge_deletes_our_chains_and_the_jumps_into_them_only() -> None:
    rules = [
        ["-P", "INPUT", "ACCEPT"],
        ["-N", "KUBE-SERVICES"],
        ["-N", "CNI-abc"],
        ["-N", "DOCKER"],
        ["-A", "OUTPUT", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
        ["-A", "POSTROUTING", "-s", "10.85.0.2/32", "-j", "CNI-abc"],
        ["-A", "FORWARD", "-j", "DOCKER"],
        ["-A", "KUBE-SERVICES", "-j", "RETURN"],
    ]
    jumps, ours = chains_to_purge(rules, ("KUBE-", "CNI-"))
    assert ours == ["KUBE-SERVICES", "CNI-abc"]
    assert jumps == [
        ["-D", "OUTPUT", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
        ["-D", "POSTROUTING", "-s", "10.85.0.2/32", "-j", "CNI-abc"],
    ]


def test_a_live_node_of_another_cluster_is_refused_with_how_to_stop_it() -> None:
    live = Ownership(state_dir="/elsewhere", pids=[1])  # pid 1 always runs
    with pytest.raises(NodeTaken, match=r"/elsewhere.*down --state-dir /elsewhere"):
        check_free(live, Path("/state"))
    check_free(live, Path("/elsewhere"))  # the same cluster may start again
    check_free(Ownership(state_dir="/elsewhere", pids=[2**22 + 1]), Path("/state"))  # a dead owner is stale
    check_free(None, Path("/state"))
