"""What executes a Kubeflow Pipelines run on the real node, installed into KFP's namespace for the execution test.

KFP's API server (a loopback process, tests/support/kfp_backend.py) compiles each run into an Argo Workflow in that
namespace; here the rest is real and in the cluster: Argo's workflow controller (namespaced, with Argo's own RBAC
and CRDs from the pinned module) runs the Workflow's pods with argoexec as their executor; KFP's driver and
launcher (images built here) resolve each step and write to an ML Metadata service (controlplane/images/mlmd over
the `ml-metadata` wheel's store, SQLite on an emptyDir) that KFP finds through the `metadata-grpc-service`
Service; the chart's object store image serves KFP's pipeline root and Sextant's store; the components run the
trainer image. Every pod satisfies the `restricted` Pod Security Standard, which the namespace enforces: the Argo
controller's configuration gives the executor, the main containers and KFP's launcher init container the
restricted security context, and the components the store's keys (what a Kubeflow installation does with a
PodDefault or IRSA).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.polling import eventually
from tests.support.real_pods import NON_ROOT_UID, restricted_container
from tests.support.s3server import S3Server

STORE_PORT = 7070
MLMD_PORT = 8080
REGION = "us-east-1"
BUCKETS = ("sextant", "mlpipeline")
STORE_SECRET = "sextant-store"
STORE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION")
#: the template of KFP 2.14's compiled Workflows whose pods run a component (the launcher as init container)
LAUNCHER_TEMPLATE = "system-container-impl"
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": NON_ROOT_UID,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": NON_ROOT_UID, "runAsGroup": NON_ROOT_UID,
                  "fsGroup": NON_ROOT_UID, "seccompProfile": {"type": "RuntimeDefault"}}


@dataclass(frozen=True)
class ExecutionImages:
    """The refs of the images built here (`make kfp-exec-images` and `make images`)."""

    controller: str
    executor: str
    driver: str
    launcher: str
    mlmd: str
    store: str
    trainer: str

    @classmethod
    def from_refs(cls, refs: dict[str, str]) -> ExecutionImages:
        return cls(controller=refs["argo-controller"], executor=refs["argoexec"], driver=refs["kfp-driver"],
                   launcher=refs["kfp-launcher"], mlmd=refs["mlmd"], store=refs["objectstore"],
                   trainer=refs["trainer"])


def deployment(name: str, containers: list[dict[str, Any]], *, service_account: str = "default",
               volumes: list[dict[str, Any]] | None = None,
               init_containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One replica of `containers`, labelled app=name, restricted, never pulling."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"serviceAccountName": service_account, "securityContext": RESTRICTED_POD,
                                           "terminationGracePeriodSeconds": 2, "containers": containers,
                                           "initContainers": init_containers or [], "volumes": volumes or []}}}}


def service(name: str, app: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"name": "main", "port": port, "targetPort": port}]}}


def store_docs(image: str, access_key: str, secret_key: str) -> list[dict[str, Any]]:
    """The chart's object store image (versitygw) with the two buckets, on an emptyDir."""
    mkdir = restricted_container("buckets", image, ["mkdir", "-p", *(f"/data/buckets/{b}" for b in BUCKETS),
                                                    "/data/meta", "/data/iam"],
                                 volumeMounts=[{"name": "data", "mountPath": "/data"}])
    server = restricted_container(
        "versitygw", image, ["/usr/local/bin/versitygw"],
        args=["--port", f":{STORE_PORT}", "--health", "/healthz", "--iam-dir", "/data/iam", "posix", "--sidecar",
              "/data/meta", "/data/buckets"],
        env=[{"name": "ROOT_ACCESS_KEY_ID", "value": access_key},
             {"name": "ROOT_SECRET_ACCESS_KEY", "value": secret_key}],
        ports=[{"containerPort": STORE_PORT}], volumeMounts=[{"name": "data", "mountPath": "/data"}],
        readinessProbe={"httpGet": {"path": "/healthz", "port": STORE_PORT}, "periodSeconds": 1})
    return [deployment("objectstore", [server], init_containers=[mkdir], volumes=[{"name": "data", "emptyDir": {}}]),
            service("objectstore", "objectstore", STORE_PORT)]


def mlmd_docs(image: str) -> list[dict[str, Any]]:
    """The ML Metadata service and the Service name KFP's driver and launcher look for in their namespace."""
    server = restricted_container(
        "mlmd", image, ["/opt/mlmd/venv/bin/python", "/opt/mlmd/mlmd_server.py"],
        args=["--port", str(MLMD_PORT), "--sqlite", "/data/mlmd.sqlite"], ports=[{"containerPort": MLMD_PORT}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
        readinessProbe={"tcpSocket": {"port": MLMD_PORT}, "periodSeconds": 1})
    return [deployment("metadata-grpc", [server], volumes=[{"name": "data", "emptyDir": {}}]),
            service("metadata-grpc-service", "metadata-grpc", MLMD_PORT)]


def metadata_config(mlmd_host: str) -> dict[str, Any]:
    """KFP's `metadata-grpc-configmap`: the launcher's `--mlmd_server_address $(METADATA_GRPC_SERVICE_HOST)` comes
    from it (the driver finds MLMD through the Service's own variables; without this ConfigMap the launcher dials
    the unexpanded text and its error is lost in a nil-pointer panic of its deferred publish)."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "metadata-grpc-configmap"},
            "data": {"METADATA_GRPC_SERVICE_HOST": mlmd_host, "METADATA_GRPC_SERVICE_PORT": str(MLMD_PORT)}}


def store_secret(access_key: str, secret_key: str, endpoint: str) -> dict[str, Any]:
    """The store's keys, for KFP's launcher (by key name) and the components (as AWS_* variables)."""
    data = dict(zip(STORE_KEYS, (access_key, secret_key, endpoint, REGION, REGION), strict=True))
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": STORE_SECRET}, "stringData": data}


def launcher_config(store_host: str) -> dict[str, Any]:
    """KFP's `kfp-launcher` ConfigMap: the pipeline root in the store, and how to reach it."""
    providers = {"s3": {"default": {
        "endpoint": f"{store_host}:{STORE_PORT}", "region": REGION, "disableSSL": True, "forcePathStyle": True,
        "credentials": {"fromEnv": False, "secretRef": {"secretName": STORE_SECRET, "accessKeyKey": "AWS_ACCESS_KEY_ID",
                                                         "secretKeyKey": "AWS_SECRET_ACCESS_KEY"}}}}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kfp-launcher"},
            "data": {"defaultPipelineRoot": "s3://mlpipeline/v2/artifacts", "providers": json.dumps(providers)}}


def runner_rbac() -> list[dict[str, Any]]:
    """What KFP's driver and launcher read as the runs' ServiceAccount (`default`): the launcher's ConfigMap and
    the store's Secret, and their own pods."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "kfp-runner"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "kfp-runner"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kfp-runner"},
               "subjects": [{"kind": "ServiceAccount", "name": "default"}]}
    return [role, binding]


def controller_config() -> dict[str, Any]:
    """Argo's `workflow-controller-configmap`: restricted security contexts everywhere, the store's keys in the
    components' environment."""
    restricted = {"securityContext": RESTRICTED_CONTAINER}
    # `env`, not `envFrom`: Argo merges these defaults into each main container by strategic merge, where `env`
    # merges by name and `envFrom` is replaced by KFP's own (its metadata ConfigMap).
    store_env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": STORE_SECRET, "key": key}}}
                 for key in STORE_KEYS]
    main = {**restricted, "env": store_env}
    # KFP 2.14 gives its launcher init container no security context; Argo merges these defaults into every
    # Workflow by template and container name, so it gets one (a workflow-level podSpecPatch would add the
    # container to the driver pods too).
    launcher = {"name": LAUNCHER_TEMPLATE, "initContainers": [{"name": "kfp-launcher", **restricted}]}
    defaults = {"spec": {"securityContext": RESTRICTED_POD, "templates": [launcher]}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "workflow-controller-configmap"},
            "data": {"executor": json.dumps({"imagePullPolicy": "Never", **restricted}),
                     "mainContainer": json.dumps(main), "workflowDefaults": json.dumps(defaults)}}


def controller_docs(images: ExecutionImages, namespace: str) -> list[dict[str, Any]]:
    """Argo's workflow controller for this namespace only (`--namespaced`), as ServiceAccount `argo`."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "argo"}}
    container = restricted_container(
        "workflow-controller", images.controller, ["workflow-controller"],
        args=["--configmap", "workflow-controller-configmap", "--executor-image", images.executor,
              "--executor-image-pull-policy", "Never", "--namespaced", "--managed-namespace", namespace,
              "--loglevel", "info"],
        env=[{"name": "LEADER_ELECTION_DISABLE", "value": "true"}])
    return [account, controller_config(), deployment("workflow-controller", [container], service_account="argo")]


def cluster_ip(cluster: Any, namespace: str, name: str) -> str:
    return str(cluster.kubectl("get", "service", name, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout)


def apply_docs(cluster: Any, namespace: str, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))


def wait_available(cluster: Any, namespace: str, *names: str, timeout: float = 120.0) -> None:
    """Wait until each Deployment has its replica available (polling the API)."""
    def available(name: str) -> bool:
        status = json.loads(cluster.kubectl("get", "deployment", name, "-n", namespace, "-o", "json").stdout)["status"]
        return int(status.get("availableReplicas") or 0) >= 1

    for name in names:
        eventually(lambda n=name: available(n) or None, timeout=timeout, what=f"deployment {namespace}/{name}")


@dataclass(frozen=True)
class InstalledExecution:
    """What the installation gives the test: the store as the host reaches it (its ClusterIP)."""

    store: S3Server


def install_execution(cluster: Any, namespace: str, images: ExecutionImages,
                      argo_manifests: Path) -> InstalledExecution:
    """Install the store, MLMD, Argo's CRDs, RBAC and controller, and KFP's runner config into `namespace`
    (labelled to enforce the restricted standard); waits until they are up."""
    cluster.kubectl("label", "namespace", namespace, "--overwrite", "pod-security.kubernetes.io/enforce=restricted",
                    "pod-security.kubernetes.io/warn=restricted")
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(argo_manifests / "crds.yaml"))
    access_key, secret_key = secrets.token_hex(10), secrets.token_hex(20)
    apply_docs(cluster, namespace, store_docs(images.store, access_key, secret_key) + mlmd_docs(images.mlmd))
    host = cluster_ip(cluster, namespace, "objectstore")
    endpoint = f"http://{host}:{STORE_PORT}"
    cluster.kubectl("apply", "-n", namespace, "-f", str(argo_manifests / "rbac.yaml"))
    mlmd_host = cluster_ip(cluster, namespace, "metadata-grpc-service")
    apply_docs(cluster, namespace, [store_secret(access_key, secret_key, endpoint), launcher_config(host),
                                    metadata_config(mlmd_host),
                                    *runner_rbac(), *controller_docs(images, namespace)])
    wait_available(cluster, namespace, "objectstore", "metadata-grpc", "workflow-controller")
    store = S3Server(endpoint=endpoint, access_key=access_key, secret_key=secret_key, region=REGION)
    eventually(lambda: _store_answers(store), timeout=30, what=f"the store on {endpoint} from the host")
    return InstalledExecution(store)


def _store_answers(store: S3Server) -> bool | None:
    try:
        store.client().head_bucket(Bucket=BUCKETS[0])
    except Exception:  # noqa: BLE001 - a ClusterIP refuses for about a second after its pod is Ready
        return None
    return True
