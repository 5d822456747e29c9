"""The Helm chart lints clean, renders strictly valid manifests, and installs on the local control plane."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kubeconform import LOCATION, write_crd_schemas, write_kubernetes_schemas
from tests.support.polling import eventually
from tests.support.real_pods import operator_image_values
from tests.support.sextant_operator import CHART, helm_template

VALUE_SETS = {
    "clusterwide": [],
    "namespaced": ["--set", "watch.namespaces={team-a,team-b}"],
    "cert-manager": ["--set", "webhook.certificate.mode=certManager"],
    "no-webhook": ["--set", "webhook.enabled=false"],
    "embedded-store": ["--set", "artifactStore.embedded.enabled=true"],
    "embedded-store-nodeport": ["--set", "artifactStore.embedded.enabled=true", "--set",
                                "artifactStore.embedded.service.type=NodePort", "--set",
                                "artifactStore.embedded.storage.existingClaim=store-data"],
    "external-s3": ["--set", "artifactStore.uri=s3://models/sextant", "--set",
                    "artifactStore.endpoint=https://rgw.example:8443", "--set", "artifactStore.credentialsSecret=s3"],
}


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)


def test_helm_lint_is_clean(cluster: Any) -> None:
    result = _run([str(cluster.bin_dir / "helm"), "lint", "--strict", str(CHART), "--kube-version", "1.35.4"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_values_schema_rejects_unknown_and_invalid_values(cluster: Any) -> None:
    result = _run([str(cluster.bin_dir / "helm"), "template", "x", str(CHART), "--kube-version", "1.35.4",
                   "--set", "operator.defaultBackend=spark", "--set", "replicas=3"])
    assert result.returncode != 0
    assert "defaultBackend" in result.stderr and "replicas" in result.stderr


@pytest.fixture(scope="module")
def schema_dir(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("schemas")
    write_kubernetes_schemas(cluster, directory)
    write_crd_schemas(directory)
    return directory


@pytest.mark.parametrize("values", VALUE_SETS, ids=str)
def test_rendered_chart_passes_kubeconform_strict(cluster: Any, schema_dir: Path, values: str,
                                                  tmp_path: Path) -> None:
    rendered = tmp_path / "chart.yaml"
    out = _run([str(cluster.bin_dir / "helm"), "template", "sx", str(CHART), "--namespace", "sextant-system",
                "--kube-version", "1.35.4", "--include-crds", *VALUE_SETS[values]], check=True)
    rendered.write_text(out.stdout)
    argv = [str(cluster.bin_dir / "kubeconform"), "-strict", "-summary", "-schema-location",
            f"{schema_dir}/{LOCATION}"]
    if values == "cert-manager":
        argv += ["-skip", "Certificate,Issuer"]  # cert-manager's CRDs are not part of this cluster
    result = _run([*argv, str(rendered)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0" in result.stdout


@pytest.mark.parametrize("target", ["manifests/default", "manifests/with-webhook", "manifests/samples"])
def test_kustomize_output_passes_kubeconform_strict(cluster: Any, schema_dir: Path, target: str,
                                                   tmp_path: Path) -> None:
    rendered = tmp_path / "kustomize.yaml"
    rendered.write_text(cluster.kubectl("kustomize", str(CHART.parents[1] / target)).stdout)
    skip = ["-skip", "Certificate,Issuer"] if target.endswith("with-webhook") else []
    result = _run([str(cluster.bin_dir / "kubeconform"), "-strict", "-summary", *skip, "-schema-location",
                   f"{schema_dir}/{LOCATION}", str(rendered)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0" in result.stdout


def test_kubeconform_strict_catches_a_typo(cluster: Any, schema_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "ml.sextant.io/v1alpha1", "kind": "InferenceService",
                                   "metadata": {"name": "x"}, "spec": {"model": {"name": "a"}, "replica": 2}}))
    result = _run([str(cluster.bin_dir / "kubeconform"), "-strict", "-schema-location",
                   f"{schema_dir}/{LOCATION}", str(bad)])
    assert result.returncode != 0 and "replica" in result.stdout


def test_namespaced_mode_creates_roles_only(cluster: Any) -> None:
    docs = helm_template(cluster, "sextant-system", "--set", "watch.namespaces={team-a,team-b}")
    kinds = [d["kind"] for d in docs]
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    assert sorted(d["metadata"]["namespace"] for d in docs if d["kind"] == "Role") == ["team-a", "team-b"]


def test_helm_install_wait_in_a_restricted_namespace(cluster: Any, crds: None, namespace: str) -> None:
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest")
    # Control: the namespace really enforces `restricted` (a default pod is refused).
    plain = cluster.kubectl("run", "plain", "-n", namespace, "--image=busybox", "--dry-run=server", check=False)
    assert plain.returncode != 0 and "violates PodSecurity" in plain.stderr
    helm = [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
    # Namespaced mode keeps the chart's webhook scoped to this namespace while it is installed.
    install = _run([*helm, "install", "sx", str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
                    "--set", f"watch.namespaces={{{namespace}}}", *operator_image_values(cluster)])
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Sextant 0.1.0 is installed" in install.stdout  # NOTES.txt
        pods = eventually(lambda: cluster.kubectl(
            "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=operator", "-o", "name").stdout,
            what="operator pod")
        assert pods.strip()
        events = cluster.kubectl("get", "events", "-n", namespace, "-o", "yaml").stdout
        assert "violates PodSecurity" not in events
        upgrade = _run([*helm, "upgrade", "sx", str(CHART), "--namespace", namespace, "--wait", "--timeout",
                        "120s", "--reuse-values"])
        assert upgrade.returncode == 0, upgrade.stderr
    finally:
        _run([*helm, "uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s"])


def test_webhook_certificate_is_kept_on_upgrade(cluster: Any, crds: None, namespace: str) -> None:
    helm = [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
    args = ["--namespace", namespace, "--set", f"watch.namespaces={{{namespace}}}", "--timeout", "120s",
            *operator_image_values(cluster)]
    try:
        assert _run([*helm, "install", "sx", str(CHART), *args]).returncode == 0

        def ca() -> str:
            return cluster.kubectl("get", "secret", "-n", namespace, "sx-sextant-webhook-tls", "-o",
                                   "jsonpath={.data.ca\\.crt}").stdout

        before = ca()
        assert _run([*helm, "upgrade", "sx", str(CHART), *args]).returncode == 0
        assert before and ca() == before
        hook = cluster.kubectl("get", "validatingwebhookconfiguration", f"sx-sextant-{namespace}", "-o",
                               "jsonpath={.webhooks[0].clientConfig.caBundle}").stdout
        assert hook == before
    finally:
        _run([*helm, "uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s"])
