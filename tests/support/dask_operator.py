"""The Dask Kubernetes operator in the local cluster: its Helm chart from the pinned dask-kubernetes wheel, its
image built here (controlplane/dask-operator), standalone kopf, restricted pods."""

from __future__ import annotations

import importlib.resources
import subprocess
from pathlib import Path
from typing import Any

from tests.support.real_pods import helm, image_refs
from tests.support.resources import REPO

RELEASE = "dask-operator"
FINALIZERS_RBAC = REPO / "controlplane" / "dask-operator" / "finalizers-rbac.yaml"
NAMESPACE = "sextant-dask"


def chart() -> Path:
    """The chart inside the installed dask-kubernetes package (its CRDs in crds/)."""
    return Path(str(importlib.resources.files("dask_kubernetes"))) / "operator/deployment/helm/dask-kubernetes-operator"


def install_dask_operator(cluster: Any) -> subprocess.CompletedProcess[str]:
    """`helm upgrade --install` the Dask operator watching every namespace, plus the finalizer rights its chart
    misses (controlplane/dask-operator/finalizers-rbac.yaml); returns the helm result to assert."""
    repository, tag = image_refs(cluster)["dask-operator"].rsplit(":", 1)
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    cluster.kubectl("label", "namespace", NAMESPACE, "--overwrite", "pod-security.kubernetes.io/enforce=restricted")
    cluster.kubectl("apply", "-f", str(FINALIZERS_RBAC))
    return helm(cluster, "upgrade", "--install", RELEASE, str(chart()), "--namespace", NAMESPACE, "--wait",
                "--timeout", "180s", "--set", f"image.name={repository}", "--set", f"image.tag={tag}",
                "--set", "image.pullPolicy=Never", "--set", "kopfArgs={--all-namespaces,--standalone}",
                "--set", "podSecurityContext.seccompProfile.type=RuntimeDefault",
                "--set", "securityContext.runAsUser=65532",
                "--set", "resources.requests.cpu=50m", "--set", "resources.requests.memory=128Mi")


def uninstall_dask_operator(cluster: Any) -> None:
    helm(cluster, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout", "60s")
    cluster.kubectl("delete", "-f", str(FINALIZERS_RBAC), "--ignore-not-found", check=False)
