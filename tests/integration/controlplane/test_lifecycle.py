"""`make cluster` / `make cluster-down` behave: loopback and the node's bridge only, warm start within 30 s,
nothing left behind, one real node per machine."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sextant_devcluster import LocalCluster
from sextant_devcluster.layout import NODE_IP
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

WARM_START_LIMIT_SECONDS = 30.0


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _listening_addresses(inodes: set[str]) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of LISTEN sockets whose inode is in `inodes`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                found.append(local.split(":")[0])
    return found


def _proc_hex(ipv4: str) -> str:
    """An IPv4 address as /proc/net/tcp writes it (little-endian hex)."""
    return socket.inet_aton(ipv4)[::-1].hex().upper()


def test_every_component_listens_on_loopback_or_the_node_bridge_only(cluster: LocalCluster) -> None:
    pids = {name: pid for name, pid in cluster.status().items() if name != "containerd"}
    assert all(pids.values()), f"every component should run: {pids}"
    # IPv6 loopback is ::1; the node's bridge address is on this machine and nowhere else.
    allowed = {_proc_hex("127.0.0.1"), "00000000000000000000000001000000", _proc_hex(NODE_IP)}
    for component, pid in pids.items():
        assert pid is not None
        addresses = _listening_addresses(_socket_inodes(pid))
        assert addresses, f"{component} listens on nothing?"
        assert set(addresses) <= allowed, f"{component} listens beyond loopback and the bridge: {addresses}"


def _cli(state_dir: Path, bin_dir: Path, command: str, *args: str,
         real_node: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI on a second state dir; without a real node unless asked (the session's cluster holds it)."""
    node = [] if real_node else ["--no-real-node"]
    return subprocess.run(
        [sys.executable, "-m", "sextant_devcluster.cli", "--state-dir", str(state_dir), "--bin-dir", str(bin_dir),
         *node, command, *args], capture_output=True, text=True, timeout=180)


def test_cluster_up_is_fast_when_warm_and_down_leaves_no_process(cluster: LocalCluster, tmp_path: Path) -> None:
    state = tmp_path / "second-cluster"
    up = _cli(state, cluster.bin_dir, "up")
    try:
        assert up.returncode == 0, up.stderr
        seconds = float(re.search(r"ready in ([\d.]+) s", up.stdout).group(1))  # type: ignore[union-attr]
        assert seconds <= WARM_START_LIMIT_SECONDS
        assert f"export KUBECONFIG={state.resolve()}/kubeconfig" in up.stdout
        second = LocalCluster(state_dir=state, bin_dir=cluster.bin_dir, real_node=False)
        # Like the demo's operator: a process run beside the cluster, stopped by `down` too.
        assert _cli(state, cluster.bin_dir, "spawn", "beside", "--", "sleep", "600").returncode == 0
        pids = second.status()
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "beside"}
        assert all(pids.values())
        nodes = second.kubectl("get", "nodes", "-o", "name").stdout.split()
        assert "node/kwok-gpu-0" in nodes
    finally:
        down = _cli(state, cluster.bin_dir, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("stopped: beside, kwok,")
    # Stopped processes are reaped by init (they outlived the `up` command that started them).
    eventually(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids.values() if pid), timeout=15,
               what="every component process to be gone")
    assert "nothing was running" in _cli(state, cluster.bin_dir, "down").stdout


def test_a_second_real_node_is_refused_naming_the_cluster_that_holds_it(cluster: LocalCluster,
                                                                         tmp_path: Path) -> None:
    if cluster.node is None:
        pytest.skip("the session's cluster has no real node (SEXTANT_REAL_NODE=0)")
    state = tmp_path / "third-cluster"
    up = _cli(state, cluster.bin_dir, "up", "--images", str(cluster.image_index), real_node=True)
    assert up.returncode == 1
    assert f"taken by the cluster in {cluster.state_dir}" in up.stderr
    assert "SEXTANT_REAL_NODE=0" in up.stderr
    assert "running" not in _cli(state, cluster.bin_dir, "status").stdout  # it started nothing
    assert cluster.node.running()["kubelet"] is not None  # and touched nothing of the live node
