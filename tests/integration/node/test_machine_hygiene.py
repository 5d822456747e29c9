"""A real node leaves the machine as it found it, and starts after a crash that left everything behind.

These tests own the machine's one real node, so they run before the session's cluster starts (see
tests/integration/conftest.py) and are skipped when another live cluster holds the node.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster import LocalCluster, host_cleanup, host_network
from sextant_devcluster.images import load_index
from sextant_devcluster.layout import NODE_BRIDGE, REAL_NODE_NAME, Layout
from sextant_devcluster.node_lock import NodeRecord, is_live
from sextant_devcluster.realnode import RealNode
from tests.support.polling import eventually
from tests.support.real_pods import IMAGE_INDEX, apply, http_server_pod, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.owns_machine]


def _machine_state(state_dir: Path) -> dict[str, Any]:
    """What a node could leave behind: processes, mounts, pod cgroups, chains, the bridge, the sysctls."""
    return {
        "processes": host_cleanup.processes_mentioning([state_dir]),
        "mounts": host_cleanup.mounts_under([state_dir]),
        "pod_cgroups": [str(p) for p in host_cleanup.pod_cgroup_dirs()],
        "chains": host_network.leftover_chains(),
        "bridge": subprocess.run(["ip", "link", "show", NODE_BRIDGE], capture_output=True).returncode == 0,
        "sysctls": host_network.read_sysctls(),
        "fixed_paths": [str(p) for p in (host_cleanup.CONTAINER_LOG_LINKS, host_cleanup.KUBELET_DEVICE_PLUGINS,
                                         *host_cleanup.RUNTIME_DIRS) if p.exists()],
    }


@pytest.fixture()
def own_node_cluster() -> Any:
    if os.geteuid() != 0:
        pytest.skip("the real node needs root")
    if os.environ.get("SEXTANT_TEST_KUBECONFIG"):
        pytest.skip("the tests run on another cluster (SEXTANT_TEST_KUBECONFIG)")
    owner = NodeRecord().read()
    if owner is not None and is_live(owner):
        pytest.skip(f"the machine's real node is held by {owner.state_dir}")
    from sextant_devcluster.cli import DEFAULT_BIN_DIR

    bin_dir = Path(os.environ.get("SEXTANT_BIN_DIR", DEFAULT_BIN_DIR))
    if owner is not None:  # a crashed run's leftovers (CI after a killed session): clean as the next start would
        RealNode(Layout(Path(owner.state_dir)), bin_dir, IMAGE_INDEX).clean_machine()
    # A short state directory: the kubelet's unix sockets live under it, and a socket path has at most 107
    # bytes (pytest's numbered tmp_path grows with every run on a machine and once pushed it over).
    state_dir = Path(tempfile.mkdtemp(prefix="sx-hygiene-"))
    cluster = LocalCluster(state_dir=state_dir, bin_dir=bin_dir, real_node=True, image_index=IMAGE_INDEX)
    before = _machine_state(cluster.state_dir)
    if before["chains"] or before["bridge"]:
        pytest.skip(f"this machine has chains or a bridge no Sextant node left: {before}")
    try:
        yield cluster, before
    finally:
        cluster.down()
        shutil.rmtree(state_dir, ignore_errors=True)


def _kill_everything(cluster: LocalCluster) -> None:
    """A crash: every component and node process SIGKILLed, containers, mounts, chains and state left."""
    for pid in cluster.status().values():
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
    eventually(lambda: not any(cluster.status().values()), timeout=15, what="every process to die")


def test_down_after_a_crash_and_a_restart_leaves_the_machine_as_it_was(own_node_cluster: Any) -> None:
    cluster, before = own_node_cluster
    cluster.up()
    namespace = "hygiene"
    cluster.kubectl("create", "namespace", namespace)
    image = load_index(IMAGE_INDEX)["operator"].ref
    apply(cluster, namespace, http_server_pod("web", image))
    assert wait_ready(cluster, namespace, "web")["spec"]["nodeName"] == REAL_NODE_NAME

    _kill_everything(cluster)
    left = _machine_state(cluster.state_dir)
    assert left["mounts"] and left["chains"] and left["bridge"], f"the crash should leave state behind: {left}"

    cluster.up()  # after an unclean stop: cleans what the crash left, then starts
    # The pod's container died with the crash; the kubelet starts it again.
    wait_ready(cluster, namespace, "web")

    cluster.down()
    after = _machine_state(cluster.state_dir)
    assert after["processes"] == [] and after["mounts"] == [] and after["pod_cgroups"] == []
    assert after["chains"] == [] and not after["bridge"]
    assert after["sysctls"] == before["sysctls"]
    assert after["fixed_paths"] == before["fixed_paths"]
    assert NodeRecord().read() is None
