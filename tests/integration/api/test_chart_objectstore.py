"""The chart's embedded artifact store: restricted pods, keys only by reference, Secret kept on upgrade."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.support.real_pods import objectstore_image_values, operator_image_values
from tests.support.sextant_operator import CHART, helm_template

EMBEDDED = ("--set", "artifactStore.embedded.enabled=true")
KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def by_kind_and_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_the_store_is_off_by_default_and_the_operator_gets_no_store(cluster: Any) -> None:
    docs = helm_template(cluster, "sextant-system")
    assert not [d for d in docs if "objectstore" in d["metadata"]["name"]]
    operator = by_kind_and_name(docs)[("Deployment", "sx-sextant-operator")]
    assert not {"SEXTANT_STORE_URI", "AWS_ENDPOINT_URL", *KEYS} & set(env_of(operator))


def test_embedded_store_objects_and_what_the_operator_gets(cluster: Any) -> None:
    objects = by_kind_and_name(helm_template(cluster, "sextant-system", *EMBEDDED))
    secret = objects[("Secret", "sx-sextant-objectstore-credentials")]
    assert set(secret["data"]) == KEYS
    store = objects[("Deployment", "sx-sextant-objectstore")]
    assert store["spec"]["replicas"] == 1 and store["spec"]["strategy"] == {"type": "Recreate"}
    service = objects[("Service", "sx-sextant-objectstore")]
    assert service["spec"]["selector"] == store["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "objectstore"
    env = env_of(objects[("Deployment", "sx-sextant-operator")])
    assert env["SEXTANT_STORE_URI"] == "s3://sextant"
    assert env["AWS_ENDPOINT_URL"] == "http://sx-sextant-objectstore.sextant-system.svc:7070"
    assert env["SEXTANT_STORE_CREDENTIALS_SECRET"] == "sx-sextant-objectstore-credentials"
    for key in KEYS:
        assert env[key] == {"secretKeyRef": {"name": "sx-sextant-objectstore-credentials", "key": key}}
    rendered = str(objects[("Deployment", "sx-sextant-operator")]) + str(store)
    assert not any(value in rendered for value in secret["data"].values())  # keys only by reference


def test_the_store_pod_meets_the_restricted_standard(cluster: Any) -> None:
    pod = by_kind_and_name(helm_template(cluster, "sextant-system", *EMBEDDED))[
        ("Deployment", "sx-sextant-objectstore")]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["initContainers"] + pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
    server = pod["containers"][0]
    assert server["readinessProbe"]["httpGet"]["path"] == "/healthz" and "livenessProbe" in server
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["emptyDir"] == {"sizeLimit": "10Gi"} and volumes["tmp"]["emptyDir"] == {}


def test_own_credentials_secret_replaces_the_generated_one(cluster: Any) -> None:
    docs = helm_template(cluster, "sextant-system", *EMBEDDED, "--set", "artifactStore.credentialsSecret=mine")
    assert not [d for d in docs if d["kind"] == "Secret" and "objectstore" in d["metadata"]["name"]]
    store = by_kind_and_name(docs)[("Deployment", "sx-sextant-objectstore")]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in store["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert refs == {"mine"}


def test_values_schema_rejects_a_bad_bucket_and_store_uri(cluster: Any) -> None:
    result = subprocess.run([str(cluster.bin_dir / "helm"), "template", "x", str(CHART), *EMBEDDED, "--set",
                             "artifactStore.embedded.bucket=Bad_Bucket", "--set", "artifactStore.uri=gs://x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "bucket" in result.stderr and "uri" in result.stderr


def test_install_in_a_restricted_namespace_keeps_the_keys_on_upgrade(cluster: Any, crds: None,
                                                                     namespace: str) -> None:
    cluster.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/enforce-version=latest")
    helm = [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig)]
    args = ["--namespace", namespace, "--set", f"watch.namespaces={{{namespace}}}", *EMBEDDED, "--wait",
            "--timeout", "120s", *operator_image_values(cluster), *objectstore_image_values(cluster)]

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*helm, *argv], capture_output=True, text=True, timeout=300)

    def keys() -> str:
        return str(cluster.kubectl("get", "secret", "-n", namespace, "sx-sextant-objectstore-credentials", "-o",
                                   "jsonpath={.data}").stdout)

    try:
        install = run("install", "sx", str(CHART), *args)
        assert install.returncode == 0, install.stdout + install.stderr  # --wait: the store's pod was admitted
        before = keys()
        assert "AWS_SECRET_ACCESS_KEY" in before
        upgrade = run("upgrade", "sx", str(CHART), *args)
        assert upgrade.returncode == 0, upgrade.stderr
        assert keys() == before
        events = cluster.kubectl("get", "events", "-n", namespace, "-o", "yaml").stdout
        assert "violates PodSecurity" not in events
    finally:
        run("uninstall", "sx", "--namespace", namespace, "--wait", "--timeout", "60s")
