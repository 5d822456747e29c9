"""The fake nodes kwok manages: plain Node objects, one of them advertising a GPU."""

from __future__ import annotations

from typing import Any

from sextant_devcluster.commands import FAKE_NODE_ANNOTATION
from sextant_devcluster.profiles import ClusterProfile

GPU_RESOURCE = "nvidia.com/gpu"
# With a real node in the cluster the fake nodes carry this taint: pods run for real by default, and a pod opts
# into a fake node (scale tests, GPUs) with FAKE_NODE_TOLERATION and the nodeSelector FAKE_NODE_SELECTOR.
FAKE_NODE_TAINT = {"key": FAKE_NODE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}
FAKE_NODE_TOLERATION = {"key": FAKE_NODE_ANNOTATION, "operator": "Equal", "value": "fake", "effect": "NoSchedule"}
FAKE_NODE_SELECTOR = {"type": "kwok"}


def build_fake_node(
    name: str, *, cpu: str = "8", memory: str = "32Gi", gpus: int = 0, tainted: bool = True, pods: int = 110,
) -> dict[str, Any]:
    """A Node that kwok will keep Ready and whose pods it runs; `tainted` keeps pods that did not ask off it."""
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi"}
    if gpus:
        capacity[GPU_RESOURCE] = str(gpus)
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        "node.sextant.io/accelerator": "nvidia" if gpus else "none",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {FAKE_NODE_ANNOTATION: "fake"}},
        "spec": {"taints": [dict(FAKE_NODE_TAINT)]} if tainted else {},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


def default_fake_nodes(tainted: bool = True) -> list[dict[str, Any]]:
    """Three CPU nodes and one GPU node (tainted when a real node takes the pods that did not choose)."""
    return ([build_fake_node(f"kwok-node-{i}", tainted=tainted) for i in range(3)]
            + [build_fake_node("kwok-gpu-0", gpus=1, tainted=tainted)])


def large_fake_nodes(profile: ClusterProfile, tainted: bool = True) -> list[dict[str, Any]]:
    """The profile's large fake nodes, each with room for `pods_per_node` pods of 1 CPU and 2 Gi."""
    pods = profile.pods_per_node
    return [build_fake_node(f"kwok-large-{i}", cpu=str(pods), memory=f"{2 * pods}Gi", pods=pods, tainted=tainted)
            for i in range(profile.large_nodes)]
