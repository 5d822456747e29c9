"""The kustomize manifests come from the chart and the typed models, and the API server accepts them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.support.resources import REPO, sample_files


def test_rendered_bases_match_the_chart(cluster: Any) -> None:
    result = subprocess.run([sys.executable, str(REPO / "manifests/render.py"), "--check", "--helm",
                             str(cluster.bin_dir / "helm")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_default_overlay_dry_runs_on_the_server(cluster: Any, crds: None) -> None:
    # A server dry run does not create the Namespace, so objects inside it would fail with NotFound:
    # create the overlay's namespace first (as a first real apply would), then dry-run the whole overlay.
    cluster.kubectl("apply", "-f", str(REPO / "manifests/default/namespace.yaml"))
    try:
        result = cluster.kubectl("apply", "-k", str(REPO / "manifests/default"), "--dry-run=server")
    finally:
        cluster.kubectl("delete", "namespace", "sextant-system", "--wait=false")
    assert "deployment.apps/sextant-operator created (server dry run)" in result.stdout
    assert "clusterrole.rbac.authorization.k8s.io/sextant-operator created (server dry run)" in result.stdout


def test_samples_base_dry_runs_on_the_server(cluster: Any, crds: None, namespace: str) -> None:
    result = cluster.kubectl("apply", "-n", namespace, "-k", str(REPO / "manifests/samples"), "--dry-run=server")
    assert result.stdout.count("created (server dry run)") == len(sample_files())  # every sample, however many


def test_explain_teaches_the_api(cluster: Any, crds: None) -> None:
    out = cluster.kubectl("explain", "trainingjob.spec.tuning.searchSpace").stdout
    out = " ".join(out.split())
    assert "Hyperparameters searched" in out and "int and float search between min and max" in out
    out = cluster.kubectl("explain", "inferenceservice.spec.variants.weight").stdout
    assert "weights of all variants sum" in " ".join(out.split())
