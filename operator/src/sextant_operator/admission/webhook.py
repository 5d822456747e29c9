"""The validating admission webhook: kopf handler and TLS server wiring around the rules from contracts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from sextant_contracts.resources.crd import GROUP, VERSION
from sextant_contracts.rules.batchprediction import validate_batchprediction
from sextant_contracts.rules.trainingjob import validate_trainingjob

from ..config import OperatorConfig
from ..reconcile.run_schedule import cron_error

TRAININGJOB_WEBHOOK_ID = "validate-trainingjob"
BATCHPREDICTION_WEBHOOK_ID = "validate-batchprediction"


def needs_validation(operation: str | None, body: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """Validate creations and spec changes; never block deletion or metadata-only updates (finalizers)."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if operation == "UPDATE" and old is not None:
        return bool(old.get("spec") != body.get("spec"))
    return operation in ("CREATE", "UPDATE")


def schedule_violations(spec: Mapping[str, Any]) -> list[str]:
    """A cron expression the schema's pattern lets through but croniter cannot schedule (e.g. minute 61)."""
    cron = (spec.get("schedule") or {}).get("cron")
    error = cron_error(cron) if isinstance(cron, str) else None
    return [f"spec.schedule.cron: {error}"] if error else []


def admission_message(violations: list[str]) -> str:
    """One message listing every violation, so a user fixes them all in one go."""
    if len(violations) == 1:
        return violations[0]
    return f"{len(violations)} problems: " + "; ".join(violations)


def register_admission(registry: kopf.OperatorRegistry) -> None:
    """Register the validation handlers (served at /validate-trainingjob and /validate-batchprediction)."""

    @kopf.on.validate(GROUP, VERSION, "trainingjobs", id=TRAININGJOB_WEBHOOK_ID, registry=registry,
                      operations=["CREATE", "UPDATE"])
    def validate_trainingjob_handler(body: kopf.Body, **kwargs: Any) -> None:
        if not needs_validation(kwargs.get("operation"), body, kwargs.get("old")):
            return
        spec = body.get("spec") or {}
        violations = [str(v) for v in validate_trainingjob(spec)] + schedule_violations(spec)
        if violations:
            raise kopf.AdmissionError(admission_message(violations), code=422)

    @kopf.on.validate(GROUP, VERSION, "batchpredictions", id=BATCHPREDICTION_WEBHOOK_ID, registry=registry,
                      operations=["CREATE", "UPDATE"])
    def validate_batchprediction_handler(body: kopf.Body, **kwargs: Any) -> None:
        if not needs_validation(kwargs.get("operation"), body, kwargs.get("old")):
            return
        spec = body.get("spec") or {}
        violations = [str(v) for v in validate_batchprediction(spec)] + schedule_violations(spec)
        if violations:
            raise kopf.AdmissionError(admission_message(violations), code=422)


def configure_webhook_server(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Serve admission over TLS with the mounted certificate; the chart (not kopf) registers the webhook."""
    if config.webhook_cert_dir is None:
        raise ValueError("SEXTANT_WEBHOOK_CERT_DIR is not set; mount tls.crt and tls.key there or set "
                         "SEXTANT_WEBHOOK_ENABLED=false")
    settings.admission.server = kopf.WebhookServer(
        addr=config.webhook_bind, port=config.webhook_port,
        certfile=config.webhook_cert_dir / "tls.crt", pkeyfile=config.webhook_cert_dir / "tls.key")
    settings.admission.managed = None
