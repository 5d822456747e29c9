"""Times N InferenceServices from watch streams (polling 1,000 objects would load the API server it measures):
when each child (Deployment, Service, HPA) of each InferenceService was first seen, and when each
InferenceService first reported Ready=True. Works for any controller that labels its children with the name of
their InferenceService (KServe: serving.kserve.io/inferenceservice; Sextant: ml.sextant.io/inferenceservice).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client, watch
from prometheus_client.parser import text_string_to_metric_families

WATCH_SECONDS = 5  # a watch call ends this often, so stop() returns quickly
CHILD_KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler")


def is_ready(body: dict[str, Any]) -> bool:
    """Ready=True among status.conditions (KServe and Sextant both report it so)."""
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def all_seen(first_seen: dict[tuple[str, str], float], names: Iterable[str], kinds: Iterable[str]) -> float | None:
    """The time the last of every (kind, name) child was first seen, or None while one is missing."""
    times = [first_seen.get((k, n)) for k in kinds for n in names]
    return None if any(t is None for t in times) else max(t for t in times if t is not None)


class ScaleRecorder:
    """Watches a namespace's children (by `label`) and its InferenceServices (`group/version/plural`) in threads."""

    def __init__(self, api_client: Any, namespace: str, label: str, group: str, version: str, plural: str,
                 jobs_label: str | None = None) -> None:
        """`jobs_label`: also watch the Jobs carrying it (a TrainingJob's run), keyed by that label's value."""
        self.namespace, self.label, self._api = namespace, label, api_client
        self._labels = {"Job": jobs_label} if jobs_label else {}
        apps, core, autoscaling = client.AppsV1Api(api_client), client.CoreV1Api(api_client), \
            client.AutoscalingV2Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        self._sources: dict[str, Callable[..., Any]] = {
            "Deployment": lambda **kw: apps.list_namespaced_deployment(namespace, label_selector=label, **kw),
            "Service": lambda **kw: core.list_namespaced_service(namespace, label_selector=label, **kw),
            "HorizontalPodAutoscaler": lambda **kw: autoscaling.list_namespaced_horizontal_pod_autoscaler(
                namespace, label_selector=label, **kw),
            "InferenceService": lambda **kw: custom.list_namespaced_custom_object(
                group, version, namespace, plural, **kw),
        }
        if jobs_label:
            batch = client.BatchV1Api(api_client)
            self._sources["Job"] = lambda **kw: batch.list_namespaced_job(namespace, label_selector=jobs_label, **kw)
        self.first_seen: dict[tuple[str, str], float] = {}  # (kind, InferenceService) -> its first such child
        self.object_seen: dict[tuple[str, str], float] = {}  # (kind, object name) -> first seen
        self.uids: dict[tuple[str, str], set[str]] = {}  # (kind, object name) -> uids: more than one = re-created
        self.ready_at: dict[str, float] = {}
        self.errors: list[str] = []  # stream failures, each followed by a fresh list
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(kind,), daemon=True) for kind in self._sources]

    def start(self) -> ScaleRecorder:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=WATCH_SECONDS * 3)

    def _record(self, kind: str, body: dict[str, Any]) -> None:
        meta = body.get("metadata") or {}
        now = time.time()
        owner = meta.get("name", "") if kind == "InferenceService" else \
            (meta.get("labels") or {}).get(self._labels.get(kind, self.label), "")
        with self._lock:
            self.first_seen.setdefault((kind, owner), now)
            self.object_seen.setdefault((kind, meta.get("name", "")), now)
            self.uids.setdefault((kind, meta.get("name", "")), set()).add(meta.get("uid", ""))
            if kind == "InferenceService" and is_ready(body):
                self.ready_at.setdefault(owner, now)

    def _loop(self, kind: str) -> None:
        source = self._sources[kind]
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    doc = self._api.sanitize_for_serialization(source())
                    for item in doc.get("items") or []:
                        self._record(kind, item)
                    version = doc["metadata"]["resourceVersion"]
                for event in watch.Watch().stream(source, resource_version=version, timeout_seconds=WATCH_SECONDS,
                                                  allow_watch_bookmarks=True):
                    obj = event["object"]
                    body = obj if isinstance(obj, dict) else self._api.sanitize_for_serialization(obj)
                    version = (body.get("metadata") or {}).get("resourceVersion", version)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._record(kind, body)
            except client.exceptions.ApiException as exc:
                if exc.status == 410:  # expired: list again
                    version = ""
                else:
                    self.errors.append(f"{kind}: {exc.status} {exc.reason}; listing again")
                    version = ""
            except Exception as exc:  # noqa: BLE001 - a broken stream must not end the recording silently
                self.errors.append(f"{kind}: {exc!r}; listing again")
                version = ""

    def children_done(self, names: list[str]) -> float | None:
        """None while an InferenceService lacks a child of some kind; then the time the last child object (of
        any InferenceService, a controller may make several of a kind) was first seen."""
        with self._lock:
            if all_seen(self.first_seen, names, CHILD_KINDS) is None:
                return None
            return max(t for (kind, _), t in self.object_seen.items() if kind in CHILD_KINDS)

    def jobs_done(self, names: list[str]) -> float | None:
        """The time the last of these TrainingJobs' first Job was seen, or None while one has none."""
        with self._lock:
            return all_seen(self.first_seen, names, ("Job",))

    def ready_done(self, names: list[str]) -> float | None:
        with self._lock:
            times = [self.ready_at.get(n) for n in names]
        return None if any(t is None for t in times) else max(t for t in times if t is not None)

    def duplicates(self) -> dict[tuple[str, str], int]:
        """Children created more than once under one name (more than one uid)."""
        with self._lock:
            return {k: len(v) for k, v in self.uids.items() if len(v) > 1}


    def progress(self, names: list[str]) -> str:
        """How far the InferenceServices got, for a timeout's message."""
        with self._lock:
            ready = sum(1 for n in names if n in self.ready_at)
            kinds = {k: sum(1 for n in names if (k, n) in self.first_seen) for k in CHILD_KINDS}
        return f"{ready}/{len(names)} Ready, with children {kinds}; stream errors: {self.errors[-3:]}"


def child_counts(cluster: Any, namespace: str, label: str) -> dict[str, int]:
    """How many Deployments, Services and HPAs carry `label` in the namespace (listed once, after the watch)."""
    return {kind: len(cluster.kubectl("get", kind, "-n", namespace, "-l", label, "-o", "name").stdout.split())
            for kind in ("deployments", "services", "hpa")}


def samples(metrics_text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of series `name` (e.g. `apiserver_request_total`) in a Prometheus exposition: (labels, value)."""
    return [(dict(sample.labels), sample.value) for family in text_string_to_metric_families(metrics_text)
            for sample in family.samples if sample.name == name]


def _requests(cluster: Any) -> list[tuple[dict[str, str], int]]:
    """The API server's `apiserver_request_total` series since it started: (labels, count)."""
    metrics = cluster.kubectl("get", "--raw", "/metrics").stdout
    return [(labels, int(value)) for labels, value in samples(metrics, "apiserver_request_total")]


def request_counts(cluster: Any) -> Counter[str]:
    """The API server's requests since it started, by "VERB resource[/subresource]" (every client's)."""
    counts: Counter[str] = Counter()
    for labels, count in _requests(cluster):
        sub = labels.get("subresource")
        counts[f"{labels.get('verb')} {labels.get('resource')}{'/' + sub if sub else ''}"] += count
    return counts


def server_side_applies(cluster: Any) -> int:
    """Server-side applies the API server has answered (verb APPLY): only the operator uses them in these
    tests, so a rise while nothing changes is the operator writing."""
    return sum(count for labels, count in _requests(cluster) if labels.get("verb") == "APPLY")


#: What a serving controller writes: its resources (any subresource) and its children's specs. The children's
#: status subresources are the kube-controller-manager's (Deployments, HPAs, disruption budgets) and not counted.
CONTROLLER_RESOURCES = frozenset({"inferenceservices"})
CHILD_RESOURCES = frozenset({"deployments", "services", "configmaps", "horizontalpodautoscalers",
                             "poddisruptionbudgets", "httproutes", "scaledobjects"})
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})


#: What the training side writes besides: TrainingJobs (any subresource) and their Jobs' specs (a Job's status is
#: the job controller's).
TRAINING_RESOURCES = frozenset({"trainingjobs"})
TRAINING_CHILD_RESOURCES = frozenset({"jobs"})


def controller_writes(cluster: Any, controllers: frozenset[str] = CONTROLLER_RESOURCES,
                      children: frozenset[str] = CHILD_RESOURCES) -> int:
    """Writes to the `controllers` resources and to their `children`'s specs (by default InferenceServices and
    both projects' serving kinds), as the API server counted them: at rest, only an operator makes these."""
    return sum(count for labels, count in _requests(cluster) if labels.get("verb") in WRITE_VERBS and (
        labels.get("resource") in controllers
        or (labels.get("resource") in children and not labels.get("subresource"))))
