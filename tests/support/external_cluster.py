"""A cluster the tests did not start (kind, k3d, a real cluster), named by SEXTANT_TEST_KUBECONFIG.

The real-pod tests (tests/integration/node) run there as they do on the local cluster's real node; checks that
need this machine's side of the local cluster (reaching pod and Service addresses from the host, its
containerd, stopping and starting its node) are skipped.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster.cluster import new_api_client, run_kubectl


@dataclass
class ExternalCluster:
    """The subset of LocalCluster the real-pod tests use, for a cluster reached by a kubeconfig."""

    kubeconfig: Path
    bin_dir: Path
    image_index: Path
    node: None = None

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, kubeconfig_path: Path | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.bin_dir, kubeconfig_path or self.kubeconfig, *args, check=check, input=input,
                           timeout=timeout)

    def api_client(self, kubeconfig_path: Path | None = None) -> Any:
        return new_api_client(kubeconfig_path or self.kubeconfig)


def runs_real_pods(cluster: Any) -> bool:
    """True on the local cluster with its real node, and on any external cluster."""
    return isinstance(cluster, ExternalCluster) or getattr(cluster, "node", None) is not None


def skip_unless_local(cluster: Any, what: str) -> None:
    """Skip the rest of a test that needs this machine's side of the local cluster."""
    if isinstance(cluster, ExternalCluster):
        pytest.skip(f"{what} needs the local cluster (SEXTANT_TEST_KUBECONFIG names another)")


def is_local(cluster: Any) -> bool:
    return not isinstance(cluster, ExternalCluster)


def assert_on_a_real_node(cluster: Any, pod: dict[str, Any]) -> None:
    """The pod was scheduled where containers really run: the local cluster's real node, or any node elsewhere."""
    node = pod["spec"].get("nodeName", "")
    if is_local(cluster):
        from sextant_devcluster.layout import REAL_NODE_NAME

        assert node == REAL_NODE_NAME, f"pod on {node!r}, not on the real node"
    else:
        assert node, "pod not scheduled"
