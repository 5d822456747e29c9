"""A real, local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) on loopback.

Used by the pytest session fixture, `make cluster` and `make demo`; no container runtime needed.
"""

from sextant_devcluster.cluster import ClusterError, LocalCluster

__all__ = ["LocalCluster", "ClusterError"]
