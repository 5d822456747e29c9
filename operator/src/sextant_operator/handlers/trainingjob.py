"""kopf handlers for TrainingJob: reconcile on create, spec change and operator restart; clean up on delete."""

from __future__ import annotations

from typing import Any

import kopf

from sextant_contracts.resources.crd import GROUP, VERSION

from ..reconcile.conditions import now_rfc3339
from ..reconcile.trainingjob import TrainingContext, desired_trainingjob_status
from .status_writer import Logger, write_status

PLURAL = "trainingjobs"


def register_trainingjob_handlers(registry: kopf.OperatorRegistry, context: TrainingContext) -> None:
    """Register the TrainingJob handlers into registry."""

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="reconcile")
    def reconcile_trainingjob(body: kopf.Body, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status,
                              patch: kopf.Patch, logger: Logger, **_: Any) -> None:
        desired = desired_trainingjob_status(spec, int(meta.get("generation", 0)), status, context, now_rfc3339())
        write_status(body, status, desired, patch, logger)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="cleanup")
    def cleanup_trainingjob(logger: Logger, **_: Any) -> None:
        logger.info("TrainingJob deleted: no backend run exists in this operator version, nothing to clean up")
