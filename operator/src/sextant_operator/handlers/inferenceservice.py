"""kopf handlers for InferenceService: reconcile on create, spec change and operator restart; clean up on delete."""

from __future__ import annotations

from typing import Any

import kopf

from sextant_contracts.resources.crd import GROUP, VERSION

from ..reconcile.conditions import now_rfc3339
from ..reconcile.inferenceservice import Resolver, desired_inferenceservice_status
from .status_writer import Logger, write_status

PLURAL = "inferenceservices"
#: What the reconciler writes; `drift` belongs to the drift monitor.
OWNED_STATUS_FIELDS = frozenset({"phase", "reason", "message", "observedGeneration", "url", "conditions", "variants",
                                 "variantWeights", "modelVersions"})


def register_inferenceservice_handlers(registry: kopf.OperatorRegistry, resolve: Resolver) -> None:
    """Register the InferenceService handlers into registry."""

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    def reconcile_inferenceservice(body: kopf.Body, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status,
                                   patch: kopf.Patch, logger: Logger, **_: Any) -> None:
        desired = desired_inferenceservice_status(spec, int(meta.get("generation", 0)), status, resolve,
                                                  now_rfc3339())
        write_status(body, status, desired, patch, logger, OWNED_STATUS_FIELDS)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="cleanup")
    def cleanup_inferenceservice(logger: Logger, **_: Any) -> None:
        logger.info("InferenceService deleted: no model servers exist in this operator version, nothing to clean up")
