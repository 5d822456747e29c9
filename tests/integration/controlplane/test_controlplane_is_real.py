"""Proof that the local control plane is a real Kubernetes: controllers, scheduler, GC, RBAC, kwok nodes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sextant_devcluster import LocalCluster
from sextant_devcluster.nodes import FAKE_NODE_SELECTOR, FAKE_NODE_TOLERATION
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

LABELS = {"app": "hello"}


def _pod_template(resources: dict[str, Any] | None = None) -> client.V1PodTemplateSpec:
    """A pod for the kwok fake nodes: it opts in with their toleration and nodeSelector (see nodes.py)."""
    container = client.V1Container(name="main", image="registry.invalid/hello:1",
                                   resources=client.V1ResourceRequirements(**(resources or {})))
    spec = client.V1PodSpec(containers=[container], restart_policy="Always", node_selector=dict(FAKE_NODE_SELECTOR),
                            tolerations=[client.V1Toleration(**FAKE_NODE_TOLERATION)])
    return client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=LABELS), spec=spec)


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(replicas=replicas, selector=client.V1LabelSelector(match_labels=LABELS),
                                     template=_pod_template()))


def _running_pods(core: client.CoreV1Api, namespace: str) -> list[client.V1Pod]:
    return [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running"]


def test_deployment_gets_replicaset_and_running_pods_on_fake_nodes(
        cluster: LocalCluster, core: client.CoreV1Api, namespace: str) -> None:
    with cluster.api_client() as api:
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(namespace, _deployment("hello", replicas=3))
        replicasets = eventually(lambda: apps.list_namespaced_replica_set(namespace).items,
                                 what="the Deployment controller to create a ReplicaSet")
        assert replicasets[0].metadata.owner_references[0].kind == "Deployment"
        pods = eventually(lambda: len(_running_pods(core, namespace)) == 3 and _running_pods(core, namespace),
                          what="3 pods Running")
        assert all(p.spec.node_name.startswith("kwok-") for p in pods)
        eventually(lambda: apps.read_namespaced_deployment(namespace=namespace, name="hello")
                   .status.available_replicas == 3, what="the Deployment to report 3 available replicas")


def test_job_pod_completes_and_job_succeeds(cluster: LocalCluster, core: client.CoreV1Api, namespace: str) -> None:
    template = _pod_template()
    template.spec.restart_policy = "Never"
    job = client.V1Job(metadata=client.V1ObjectMeta(name="once"),
                       spec=client.V1JobSpec(template=template, backoff_limit=0))
    with cluster.api_client() as api:
        batch = client.BatchV1Api(api)
        batch.create_namespaced_job(namespace, job)
        eventually(lambda: batch.read_namespaced_job("once", namespace).status.succeeded == 1,
                   what="the Job to succeed")
        conditions = {c.type: c.status for c in batch.read_namespaced_job("once", namespace).status.conditions}
        assert conditions.get("Complete") == "True"
    phases = [p.status.phase for p in core.list_namespaced_pod(namespace).items]
    assert phases == ["Succeeded"]


def test_deleting_an_owner_garbage_collects_its_children(
        cluster: LocalCluster, core: client.CoreV1Api, namespace: str) -> None:
    with cluster.api_client() as api:
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(namespace, _deployment("doomed", replicas=2))
        eventually(lambda: len(core.list_namespaced_pod(namespace).items) == 2, what="2 pods")
        apps.delete_namespaced_deployment("doomed", namespace, propagation_policy="Background")
        eventually(lambda: not apps.list_namespaced_replica_set(namespace).items,
                   what="the garbage collector to delete the ReplicaSet")
        eventually(lambda: not core.list_namespaced_pod(namespace).items,
                   what="the garbage collector to delete the pods")


def test_namespace_deletion_completes(cluster: LocalCluster, core: client.CoreV1Api) -> None:
    name = "t-namespace-deletion"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    with cluster.api_client() as api:
        client.AppsV1Api(api).create_namespaced_deployment(name, _deployment("in-ns", replicas=1))
    eventually(lambda: core.list_namespaced_pod(name).items, what="a pod in the namespace")
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone, timeout=90, what="the namespace controller to finish deleting the namespace")


def test_user_without_binding_gets_403_then_succeeds_after_rolebinding(
        cluster: LocalCluster, namespace: str) -> None:
    kubeconfig = cluster.user_kubeconfig("alice")
    denied = cluster.kubectl("-n", namespace, "get", "pods", kubeconfig_path=kubeconfig, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr and 'User "alice" cannot list resource "pods"' in denied.stderr
    cluster.kubectl("-n", namespace, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    cluster.kubectl("-n", namespace, "create", "rolebinding", "alice-reads", "--role=pod-reader", "--user=alice")
    eventually(lambda: cluster.kubectl("-n", namespace, "get", "pods", kubeconfig_path=kubeconfig,
                                       check=False).returncode == 0, what="alice to be allowed to list pods")
    still_denied = cluster.kubectl("-n", namespace, "get", "secrets", kubeconfig_path=kubeconfig, check=False)
    assert "Forbidden" in still_denied.stderr


def test_service_account_token_authenticates_as_the_service_account(cluster: LocalCluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "create", "serviceaccount", "robot")
    kubeconfig = cluster.service_account_kubeconfig(namespace, "robot")
    whoami = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}",
                             kubeconfig_path=kubeconfig)
    assert whoami.stdout == f"system:serviceaccount:{namespace}:robot"


def test_pod_requesting_a_gpu_lands_on_the_gpu_node(core: client.CoreV1Api, namespace: str) -> None:
    gpu = {"limits": {"nvidia.com/gpu": "1"}}
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="trainer"), spec=_pod_template(gpu).spec)
    core.create_namespaced_pod(namespace, pod)
    running = eventually(lambda: (p := core.read_namespaced_pod("trainer", namespace)).status.phase == "Running"
                         and p, what="the GPU pod to run")
    assert running.spec.node_name == "kwok-gpu-0"
    second = client.V1Pod(metadata=client.V1ObjectMeta(name="waits"), spec=_pod_template(gpu).spec)
    core.create_namespaced_pod(namespace, second)
    unschedulable = eventually(
        lambda: [c for c in (core.read_namespaced_pod("waits", namespace).status.conditions or [])
                 if c.type == "PodScheduled" and c.reason == "Unschedulable"],
        what="a second GPU pod to be Unschedulable (only one GPU exists)")
    assert "nvidia.com/gpu" in unschedulable[0].message


def test_restricted_pod_security_is_enforced(core: client.CoreV1Api, namespace: str) -> None:
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    privileged = client.V1Pod(metadata=client.V1ObjectMeta(name="root"), spec=_pod_template().spec)
    privileged.spec.containers[0].security_context = client.V1SecurityContext(privileged=True)
    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(namespace, privileged)
    message = json.loads(rejected.value.body)["message"]
    assert rejected.value.status == 403 and 'violates PodSecurity "restricted:' in message


def test_owner_references_need_the_finalizers_grant_as_on_a_real_cluster(
        cluster: LocalCluster, core: client.CoreV1Api, namespace: str) -> None:
    """OwnerReferencesPermissionEnforcement: blocking an owner's deletion needs `update` on its finalizers, so an
    operator whose Role forgets that grant fails here as it would on a real cluster."""
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    cluster.kubectl("-n", namespace, "create", "role", "maker", "--verb=get,list,create", "--resource=configmaps")
    cluster.kubectl("-n", namespace, "create", "rolebinding", "bob-makes", "--role=maker", "--user=bob")
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid,
         "blockOwnerDeletion": True}]}}
    bob = cluster.user_kubeconfig("bob")
    denied = eventually(lambda: (r := cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(child),
                                                      kubeconfig_path=bob, check=False)).returncode != 0
                        and "cannot set blockOwnerDeletion" in r.stderr and r,
                        what="the admission plugin to refuse blockOwnerDeletion without the finalizers grant")
    assert "forbidden" in denied.stderr.lower()
    cluster.kubectl("-n", namespace, "create", "role", "finalizer", "--verb=update", "--resource=configmaps/finalizers")
    cluster.kubectl("-n", namespace, "create", "rolebinding", "bob-finalizes", "--role=finalizer", "--user=bob")
    eventually(lambda: cluster.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(child),
                                       kubeconfig_path=bob, check=False).returncode == 0,
               what="the child to be created once bob may update the owner's finalizers")
