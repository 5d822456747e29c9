"""kopf settings chosen on purpose: annotations for progress, a named finalizer, watch timeouts, bounded workers."""

from __future__ import annotations

import logging

import kopf

from .config import OperatorConfig

FINALIZER = "ml.sextant.io/finalizer"
ANNOTATION_PREFIX = "ml.sextant.io"


def apply_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Configure kopf for Sextant (mutates settings; called once from main before the operator starts)."""
    # Progress and the last-handled spec live in annotations, so `status` belongs to Sextant alone
    # (a structural schema would prune kopf's status.kopf anyway).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
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
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60)
    settings.networking.request_timeout = 60
