"""Cluster profiles: the headroom a local cluster gets beyond the default (the scale benchmarks' 1,000 objects).

A profile only adds: larger fake nodes, a second Service range (a ServiceCIDR object, so the API server's flag
and the `kubernetes` Service address stay those of every other cluster) and a faster controller-manager client.
The default profile adds nothing, so `make cluster` and the test fixtures are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClusterProfile:
    """What a cluster gets beyond the default: `large_nodes` fake nodes of `pods_per_node` pods each (with CPU
    and memory for that many 1 CPU / 2 Gi pods), a ServiceCIDR `extra_service_cidr`, and the controller-manager's
    client `kube_api_qps`/`kube_api_burst` (its default, 20/30, delays Deployments at 1,000 objects)."""

    name: str
    large_nodes: int = 0
    pods_per_node: int = 250
    extra_service_cidr: str | None = None
    kube_api_qps: int | None = None
    kube_api_burst: int | None = None


DEFAULT = ClusterProfile("default")
# 4,000 pods of 1 CPU / 2 Gi (KServe's sklearn runtime): 1,000 InferenceServices of KServe (one pod each) and of
# Sextant (one server pod and, with its router, two router pods each) at once.
SCALE = ClusterProfile("scale", large_nodes=8, pods_per_node=500, extra_service_cidr="10.1.0.0/16", kube_api_qps=200,
                       kube_api_burst=400)
PROFILES = {p.name: p for p in (DEFAULT, SCALE)}
SERVICE_CIDR_NAME = "sextant-scale"


def profile_named(name: str) -> ClusterProfile:
    """The profile called `name`; raises ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown cluster profile {name!r}: use one of {', '.join(sorted(PROFILES))}") from None


def nodes_needed(pods: int, pods_per_node: int) -> int:
    """How many large nodes hold `pods` pods (for sizing a profile)."""
    return math.ceil(pods / pods_per_node)


def service_cidr(profile: ClusterProfile) -> dict[str, Any] | None:
    """The ServiceCIDR object that widens the Service range, or None when the profile keeps the default /24."""
    if profile.extra_service_cidr is None:
        return None
    return {"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": SERVICE_CIDR_NAME},
            "spec": {"cidrs": [profile.extra_service_cidr]}}


def controller_manager_flags(profile: ClusterProfile) -> list[str]:
    """kube-controller-manager flags of the profile (none for the default)."""
    flags = []
    if profile.kube_api_qps is not None:
        flags.append(f"--kube-api-qps={profile.kube_api_qps}")
    if profile.kube_api_burst is not None:
        flags.append(f"--kube-api-burst={profile.kube_api_burst}")
    return flags
