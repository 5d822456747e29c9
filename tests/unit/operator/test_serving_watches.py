"""What the serving handlers watch: children by their label, filtered by the API server where only serving
watches the kind."""

from __future__ import annotations

import kopf
from kopf._cogs.structs.references import Resource

from sextant_operator.config import OperatorConfig
from sextant_operator.reconcile.serving_manifests import LABEL_ISVC
from sextant_operator.registry import build_registry


def _selectors_after_startup() -> kopf.OperatorSettings:
    registry = build_registry(OperatorConfig(webhook_enabled=False))
    (startup,) = [h for h in registry._activities.get_all_handlers() if h.id == "serving-label-selectors"]
    settings = kopf.OperatorSettings()
    startup.fn(settings=settings)
    return settings


def test_serving_only_kinds_are_filtered_by_the_inferenceservice_label_on_the_server() -> None:
    settings = _selectors_after_startup()
    for group, plural, kind in (("apps", "deployments", "Deployment"), ("", "services", "Service"),
                                ("", "configmaps", "ConfigMap"),
                                ("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
                                ("policy", "poddisruptionbudgets", "PodDisruptionBudget")):
        resource = Resource(group=group, version="v1", plural=plural, kind=kind)
        assert list(settings.watching.label_selectors.collect(resource)) == [LABEL_ISVC], plural


def test_pods_and_jobs_stay_unfiltered_for_training_and_batch() -> None:
    settings = _selectors_after_startup()
    for group, plural, kind in (("", "pods", "Pod"), ("batch", "jobs", "Job")):
        resource = Resource(group=group, version="v1", plural=plural, kind=kind)
        assert list(settings.watching.label_selectors.collect(resource)) == [], plural
