"""Records every Job the operator creates in a namespace, from a watch: who counts duplicates needs the history.

A Job deleted and created again under the same name (a run started twice) has two uids; a poll at the end sees
only the last one. `JobRecorder` keeps each uid once with the wall-clock time this process first saw it, which
is also what the latency benchmark measures against (the API server runs on this machine, so clocks agree;
`creationTimestamp` only has one-second resolution).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from sextant_operator.reconcile.run_names import (
    LABEL_CAUSE,
    LABEL_ROLE,
    LABEL_RUN,
    LABEL_SPEC_HASH,
    LABEL_TRAININGJOB,
    ROLE_TRAIN,
)

WATCH_SECONDS = 5  # a watch call ends this often, so stop() returns quickly


@dataclass(frozen=True)
class SeenJob:
    """One Job object (one uid) as the watch first reported it."""

    uid: str
    name: str
    trainingjob: str
    run: str
    labels: dict[str, str]
    created: str
    seen_at: float  # time.time() when this process first saw it


class JobRecorder:
    """Watches the namespace's Jobs labelled with a TrainingJob in a thread; `start()` lists first."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        self.batch = client.BatchV1Api(api_client)
        self.namespace = namespace
        self.seen: dict[str, SeenJob] = {}
        self.deleted: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"jobs-{namespace}", daemon=True)
        self._version = ""

    def start(self) -> JobRecorder:
        self._relist()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WATCH_SECONDS * 3)

    def _record(self, body: dict[str, Any], event: str) -> None:
        meta = body.get("metadata") or {}
        uid, labels = meta.get("uid", ""), dict(meta.get("labels") or {})
        with self._lock:
            if event == "DELETED":
                self.deleted.add(uid)
            if uid and uid not in self.seen:
                self.seen[uid] = SeenJob(uid, meta.get("name", ""), labels.get(LABEL_TRAININGJOB, ""),
                                         labels.get(LABEL_RUN, ""), labels, meta.get("creationTimestamp", ""),
                                         time.time())

    def _relist(self) -> None:
        listed = self.batch.list_namespaced_job(self.namespace, label_selector=LABEL_TRAININGJOB,
                                                _preload_content=False)
        doc = json.loads(listed.data)
        for item in doc.get("items") or []:
            self._record(item, "ADDED")
        self._version = doc["metadata"]["resourceVersion"]

    def _loop(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(self.batch.list_namespaced_job, self.namespace,
                                           label_selector=LABEL_TRAININGJOB, resource_version=self._version,
                                           timeout_seconds=WATCH_SECONDS, allow_watch_bookmarks=True):
                    body = event["raw_object"]
                    self._version = body.get("metadata", {}).get("resourceVersion", self._version)
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._record(body, event["type"])
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: the version is too old; list again (uids dedupe the copies)
                    raise
                self._relist()
            finally:
                stream.stop()

    def jobs(self) -> list[SeenJob]:
        with self._lock:
            return list(self.seen.values())

    def first_seen(self, name: str) -> SeenJob | None:
        """The first Job object seen under `name` (the one the latency benchmark times)."""
        matches = [j for j in self.jobs() if j.name == name]
        return min(matches, key=lambda j: j.seen_at, default=None)

    def duplicated_runs(self) -> dict[str, int]:
        """Runs started twice: a Job name created more than once (name -> Job objects seen), and one training
        spec (TrainingJob, spec-hash label) run under more than one run name ("<trainingjob>@<hash>" -> runs).

        The second is only a duplicate where nothing restarts a spec on purpose (`spec.trigger`, a cron
        schedule, an edit back to an earlier spec); the chaos harness does none of these."""
        jobs = self.jobs()
        counts = Counter(j.name for j in jobs)
        duplicated = {name: n for name, n in sorted(counts.items()) if n > 1}
        per_spec: dict[str, set[str]] = {}
        for job in jobs:
            if job.labels.get(LABEL_ROLE, ROLE_TRAIN) == ROLE_TRAIN and job.labels.get(LABEL_CAUSE) == "spec":
                per_spec.setdefault(f"{job.trainingjob}@{job.labels.get(LABEL_SPEC_HASH, '')}", set()).add(job.run)
        duplicated.update({key: len(runs) for key, runs in sorted(per_spec.items()) if len(runs) > 1})
        return duplicated
