"""Pods that run for real on the local cluster's node: restricted specs, the project's images, waits."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster.images import load_index
from tests.support.external_cluster import runs_real_pods
from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[2]
IMAGE_INDEX = REPO / "build" / "images.json"
NON_ROOT_UID = 65532


def image_refs(cluster: Any) -> dict[str, str]:
    """Image name -> ref from `make images`' index; skips the test when the cluster has no real node."""
    if not runs_real_pods(cluster):
        pytest.skip("the cluster has no real node (SEXTANT_REAL_NODE=0)")
    return {name: image.ref for name, image in load_index(Path(cluster.image_index)).items()}


def operator_image_values(cluster: Any) -> list[str]:
    """`helm --set` arguments that run the operator image built here (with a real node its pods run for real;
    on fake nodes any image "runs")."""
    if not runs_real_pods(cluster):
        return []
    repository, tag = image_refs(cluster)["operator"].rsplit(":", 1)
    return ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never"]


def trainer_image_values(cluster: Any) -> list[str]:
    """`helm --set` arguments that run training Jobs with the trainer image built here."""
    if not runs_real_pods(cluster):
        return []
    repository, tag = image_refs(cluster)["trainer"].rsplit(":", 1)
    return ["--set", f"training.image.repository={repository}", "--set", f"training.image.tag={tag}",
            "--set", "training.image.pullPolicy=Never"]


def serving_image_values(cluster: Any) -> list[str]:
    """`helm --set` arguments that run model servers and routers with the images built here."""
    if not runs_real_pods(cluster):
        return []
    refs = image_refs(cluster)
    server, server_tag = refs["server"].rsplit(":", 1)
    router, router_tag = refs["router"].rsplit(":", 1)
    return ["--set", f"serving.serverImage.repository={server}", "--set", f"serving.serverImage.tag={server_tag}",
            "--set", f"serving.routerImage.repository={router}", "--set", f"serving.routerImage.tag={router_tag}",
            "--set", "serving.pullPolicy=Never"]


def objectstore_image_values(cluster: Any) -> list[str]:
    """`helm --set` arguments that run the embedded store's image built here (see operator_image_values)."""
    if not runs_real_pods(cluster):
        return []
    repository, tag = image_refs(cluster)["objectstore"].rsplit(":", 1)
    prefix = "artifactStore.embedded.image"
    return ["--set", f"{prefix}.repository={repository}", "--set", f"{prefix}.tag={tag}",
            "--set", f"{prefix}.pullPolicy=Never"]


def restricted_container(name: str, image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    """A container that satisfies the `restricted` Pod Security Standard and never pulls."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Never",
        "command": command,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        **extra,
    }


def pod(name: str, containers: list[dict[str, Any]], *, labels: dict[str, str] | None = None,
        restart: str = "Always", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": containers, "restartPolicy": restart, "terminationGracePeriodSeconds": 1, **spec},
    }


def python_pod(name: str, image: str, script: str, **kwargs: Any) -> dict[str, Any]:
    """A pod whose one container runs `script` with the image's Python."""
    extra = {key: kwargs.pop(key) for key in ("readinessProbe", "resources", "ports", "env") if key in kwargs}
    return pod(name, [restricted_container("main", image, ["python", "-u", "-c", script], **extra)], **kwargs)


def http_server_pod(name: str, image: str, port: int = 8000) -> dict[str, Any]:
    """Python's http.server answering GET / on `port`, Ready when it answers."""
    script = f"import http.server as h; print('serving on {port}', flush=True); " \
             f"h.ThreadingHTTPServer(('', {port}), h.SimpleHTTPRequestHandler).serve_forever()"
    return python_pod(name, image, script, ports=[{"containerPort": port}],
                      readinessProbe={"httpGet": {"path": "/", "port": port}, "periodSeconds": 1})


def apply(cluster: Any, namespace: str, *docs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))


def read_pod(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
    return result


class PodNotThereYet(AssertionError):
    """The pod is not in the state waited for; the message says where it is (shown when the wait times out)."""


def pod_state(body: dict[str, Any]) -> str:
    """Where a pod is, in one line: its phase, then each container's waiting or terminated reason and message
    (`ErrImageNeverPull: ... not present`, `CrashLoopBackOff`), else the unscheduled reason."""
    status = body.get("status", {})
    parts = [status.get("phase", "no phase")]
    for container in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
        for state, detail in container.get("state", {}).items():
            if state != "running":
                why = " ".join(filter(None, [detail.get("reason"), detail.get("message")]))
                parts.append(f"{container['name']} {state}: {why or '(no reason)'}")
    for condition in status.get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("status") != "True":
            parts.append(f"unscheduled: {condition.get('message') or condition.get('reason')}")
    return "; ".join(parts)


def wait_ready(cluster: Any, namespace: str, name: str, timeout: float = 90.0) -> dict[str, Any]:
    def ready() -> dict[str, Any]:
        body = read_pod(cluster, namespace, name)
        conditions = {c["type"]: c["status"] for c in body["status"].get("conditions", [])}
        if conditions.get("Ready") != "True":
            raise PodNotThereYet(pod_state(body))
        return body

    return eventually(ready, timeout=timeout, what=f"pod {namespace}/{name} to be Ready")


def wait_phase(cluster: Any, namespace: str, name: str, phase: str, timeout: float = 90.0) -> dict[str, Any]:
    def in_phase() -> dict[str, Any]:
        body = read_pod(cluster, namespace, name)
        if body["status"].get("phase") != phase:
            raise PodNotThereYet(pod_state(body))
        return body

    return eventually(in_phase, timeout=timeout, what=f"pod {namespace}/{name} to be {phase}")


def helm(cluster: Any, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The cluster's helm with its kubeconfig (returns the result; the caller asserts)."""
    argv = [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def install_chart(cluster: Any, namespace: str, *settings: str) -> subprocess.CompletedProcess[str]:
    """`helm upgrade --install sx` of the chart watching `namespace` with the embedded store, the webhook off and
    every image built here; each of `settings` ("key=value") is one more --set. Returns the result: the caller
    asserts it inside its own clean-up, so a failed install is still uninstalled."""
    from tests.support.sextant_operator import CHART

    extra = [flag for setting in settings for flag in ("--set", setting)]
    return helm(cluster, "upgrade", "--install", "sx", str(CHART), "--namespace", namespace, "--wait", "--timeout",
                "180s", "--set", f"watch.namespaces={{{namespace}}}", "--set", "webhook.enabled=false",
                "--set", "artifactStore.embedded.enabled=true", *operator_image_values(cluster),
                *trainer_image_values(cluster), *serving_image_values(cluster), *objectstore_image_values(cluster),
                *extra)


@contextlib.contextmanager
def chart_in_namespace(cluster: Any, namespace: str, *settings: str,
                       kinds: tuple[str, ...] = ("trainingjobs",)) -> Iterator[str]:
    """A `restricted` namespace with the chart installed watching it (install_chart's settings); on exit the
    namespace's resources of `kinds` are deleted while the operator still runs (it removes their finalizers),
    then the release and the namespace."""
    image_refs(cluster)  # skips without a real node
    restricted_namespace(cluster, namespace)
    install = install_chart(cluster, namespace, *settings)
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        yield namespace
    finally:
        for kind in kinds:
            cluster.kubectl("delete", kind, "--all", "-n", namespace, "--wait=true", "--timeout=120s", check=False)
        helm(cluster, "uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s")
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def restricted_namespace(cluster: Any, namespace: str) -> None:
    """Label a namespace to enforce the `restricted` Pod Security Standard (created when missing)."""
    cluster.kubectl("create", "namespace", namespace, check=False)
    cluster.kubectl("label", "namespace", namespace, "--overwrite", "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest")
