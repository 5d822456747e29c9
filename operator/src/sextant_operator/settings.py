"""kopf settings chosen on purpose: annotations for progress, a named finalizer, watch timeouts, bounded workers."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from .config import OperatorConfig

FINALIZER = "ml.sextant.io/finalizer"
ANNOTATION_PREFIX = "ml.sextant.io"
#: The kinds with kopf change handlers (on.create/update/delete/resume): only the TrainingJob (its Kubeflow runs'
#: clean-up on deletion). Everything else is watched with event handlers and indexes.
CHANGE_HANDLED_KINDS = frozenset({"TrainingJob"})


class EssenceWhereCompared(kopf.AnnotationsDiffBaseStorage):
    """kopf builds every event's "essence" (a deep copy of the whole object, status and managedFields included,
    then trimmed) to diff it for change handlers, even for kinds that have none. Only the kinds in
    CHANGE_HANDLED_KINDS are diffed, so the others get an empty essence: creating 1,000 InferenceServices spent 7 of
    the operator's 47 CPU-seconds copying their pods, Deployments and Services for nothing (docs/scale.md)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        kind = body.get("kind")
        if kind and kind not in CHANGE_HANDLED_KINDS:
            return kopf.BodyEssence()
        return super().build(body=body, extra_fields=extra_fields)


def apply_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Configure kopf for Sextant (mutates settings; called once from main before the operator starts)."""
    # Progress and the last-handled spec live in annotations, so `status` belongs to Sextant alone
    # (a structural schema would prune kopf's status.kopf anyway).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = EssenceWhereCompared(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration")
    settings.persistence.finalizer = FINALIZER
    # Without timeouts a silently dropped watch leaves the operator deaf (kopf#585).
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_server_timeout + 30
    settings.watching.connect_timeout = 30
    # No runtime scanning of CRDs and namespaces: the CRDs exist before the operator starts (the chart installs
    # them first) and namespaces are listed explicitly, so no cluster-wide list/watch permission is needed.
    settings.scanning.disabled = True
    # No kopf worker limit: with indexes it deadlocks a start that finds more objects of one kind than the limit
    # (each worker indexes its object, then waits for every object to be indexed; the objects past the limit
    # never get a worker). SEXTANT_WORKER_LIMIT bounds concurrent TrainingJob reconciles instead (handlers).
    settings.queueing.worker_limit = None
    # Only our own Events (phase transitions) and kopf's warnings/errors reach `kubectl describe`.
    settings.posting.level = logging.WARNING
    # kopf logs "Handler '...' succeeded." at INFO for every event of every watched object: 9,665 lines (and 4 of
    # 47 CPU-seconds) for 1,000 new InferenceServices. The operator's own loggers (sextant.*) say what it did.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    settings.networking.request_timeout = 60
