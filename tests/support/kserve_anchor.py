"""KServe's InferenceService controller (v0.20.0, built by `make kserve-tools`) run beside a local cluster: the
scale benchmark's anchor (docs/scale.md).

Its manifests come from the same pinned module (controlplane/build-tools.sh `kserve_manifests`): the CRDs, its
ClusterRole, the `inferenceservice-config` ConfigMap switched to Standard mode with ingress creation off, and the
sklearn ClusterServingRuntime. The manager runs as a host process (like the Sextant operator in these tests),
authenticated as its own ServiceAccount with its own ClusterRole, with a self-signed certificate where its
webhook server looks. Its webhooks are not registered (and Sextant's neither): both controllers are measured
without admission.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sextant_operator.admission.certs import write_self_signed
from tests.support.polling import eventually
from tests.support.processes import free_port

NAMESPACE = "kserve"
SERVICE_ACCOUNT = "kserve-controller-manager"
GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
LABEL = "serving.kserve.io/inferenceservice"  # on every child KServe creates for an InferenceService
SKLEARN_IMAGE = "kserve/sklearnserver:v0.20.0"  # never pulled: the pods run on kwok's fake nodes


def standard_mode_config(configmap: dict[str, Any]) -> dict[str, Any]:
    """The shipped inferenceservice-config with Standard (raw Deployment) mode and no ingress objects: the
    configuration the benchmark documents. Its values are JSON documents."""
    data = dict(configmap["data"])
    deploy = json.loads(data["deploy"])
    deploy["defaultDeploymentMode"] = "Standard"
    ingress = json.loads(data["ingress"])
    ingress["disableIngressCreation"] = True
    data.update(deploy=json.dumps(deploy), ingress=json.dumps(ingress))
    data.pop("_example", None)
    return {**configmap, "metadata": {"name": configmap["metadata"]["name"], "namespace": NAMESPACE}, "data": data}


def sklearn_runtime(runtime: dict[str, Any]) -> dict[str, Any]:
    """The shipped sklearn ClusterServingRuntime with a concrete image (kustomize would set one)."""
    out = json.loads(json.dumps(runtime))
    for container in out["spec"]["containers"]:
        container["image"] = SKLEARN_IMAGE
    return dict(out)


def kserve_inferenceservice(name: str) -> dict[str, Any]:
    """One sklearn InferenceService; its runtime asks 1 CPU / 2 Gi per pod, KServe adds an HPA (1 to 3)."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "metadata": {"name": name},
            "spec": {"predictor": {"minReplicas": 1, "maxReplicas": 3, "model": {
                "modelFormat": {"name": "sklearn"}, "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model"}}}}


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests_dir(bin_dir: Path) -> Path:
    path = bin_dir / "kserve-manifests"
    if not (bin_dir / "kserve-manager").exists() or not path.is_dir():
        raise FileNotFoundError(f"KServe's manager or manifests are missing in {bin_dir}: run `make kserve-tools`")
    return path


def install_kserve(cluster: Any) -> None:
    """CRDs, RBAC, ConfigMap and sklearn runtime from the pinned module; returns once the CRDs are established."""
    src = manifests_dir(cluster.bin_dir)
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(src / "crds.yaml"))
    eventually(lambda: cluster.kubectl("wait", "--for=condition=Established", "--timeout=10s",
                                       f"crd/{PLURAL}.{GROUP}", f"crd/clusterservingruntimes.{GROUP}",
                                       check=False).returncode == 0, timeout=60, what="KServe's CRDs")
    rbac = _load(src / "rbac.yaml")
    for doc in rbac:
        if doc["kind"] == "ServiceAccount":
            doc["metadata"]["namespace"] = NAMESPACE
        for subject in doc.get("subjects") or []:
            subject["namespace"] = NAMESPACE
    (config,) = _load(src / "inferenceservice-config.yaml")
    (runtime,) = _load(src / "sklearn-runtime.yaml")
    docs = [*rbac, standard_mode_config(config), sklearn_runtime(runtime)]
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(docs))


@dataclass
class KServeManager:
    """KServe's manager as a host process; its output goes to `log`."""

    bin_dir: Path
    kubeconfig: Path
    workdir: Path
    probe_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    webhook_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "kserve-manager.log"

    def start(self) -> None:
        tmp = self.workdir / "tmp"
        write_self_signed(tmp / "k8s-webhook-server" / "serving-certs", ["127.0.0.1"])
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "POD_NAMESPACE": NAMESPACE, "TMPDIR": str(tmp)}
        argv = [str(self.bin_dir / "kserve-manager"), f"--metrics-addr=127.0.0.1:{self.metrics_port}",
                f"--health-probe-addr=127.0.0.1:{self.probe_port}", f"--webhook-port={self.webhook_port}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        eventually(self._ready, timeout=120, what=f"KServe's manager to be ready (log: {self.log})")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"kserve-manager exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
