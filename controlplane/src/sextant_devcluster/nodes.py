"""The fake nodes kwok manages: plain Node objects, one of them advertising a GPU."""

from __future__ import annotations

from typing import Any

from sextant_devcluster.commands import FAKE_NODE_ANNOTATION

GPU_RESOURCE = "nvidia.com/gpu"


def build_fake_node(name: str, *, cpu: str = "8", memory: str = "32Gi", gpus: int = 0) -> dict[str, Any]:
    """A Node that kwok will keep Ready and whose pods it runs (no taint: every pod here is fake)."""
    capacity = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
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
        "spec": {},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


def default_fake_nodes() -> list[dict[str, Any]]:
    """Three CPU nodes and one GPU node."""
    return [build_fake_node(f"kwok-node-{i}") for i in range(3)] + [build_fake_node("kwok-gpu-0", gpus=1)]
