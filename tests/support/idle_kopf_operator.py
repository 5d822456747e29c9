"""The memory baseline of issue 16 (P2): a kopf operator that watches exactly what Sextant's operator watches and
does nothing with it.

`python -m tests.support.idle_kopf_operator --namespace NS --liveness http://127.0.0.1:PORT/healthz` (KUBECONFIG
from the environment). The same kopf, the same streams (the three Sextant kinds; Deployments, Services,
ConfigMaps, HPAs and PodDisruptionBudgets filtered by the InferenceService label at the API server; Jobs and Pods
unfiltered), the same label filters on the handlers and the same watch settings; every handler returns at once and
nothing is indexed, remembered or written. What Sextant's operator uses above this is its own cost.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import kopf

# Written out rather than imported: importing the operator's modules would load what only it needs (the
# kubernetes client among them) into the baseline. The benchmark checks they equal the operator's.
GROUP, VERSION = "ml.sextant.io", "v1alpha1"
PLURALS = ("trainingjobs", "inferenceservices", "batchpredictions")
LABEL_ISVC = "ml.sextant.io/inferenceservice"
LABEL_TRAININGJOB = "ml.sextant.io/trainingjob"
WATCHED_CHILDREN = (("", "v1", "services", "Service"), ("", "v1", "configmaps", "ConfigMap"),
                    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
                    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"))


def idle_registry() -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    async def ignore(**_: Any) -> None:
        return None

    for plural in PLURALS:
        kopf.on.event(GROUP, VERSION, plural, registry=registry, id=f"idle-{plural}")(ignore)
    serving = {LABEL_ISVC: kopf.PRESENT}
    kopf.on.event("apps", "v1", "deployments", labels=serving, registry=registry, id="idle-deployments")(ignore)
    for group, version, plural, _ in WATCHED_CHILDREN:
        kopf.on.event(group, version, plural, labels=serving, registry=registry, id=f"idle-{plural}")(ignore)
    training = {LABEL_TRAININGJOB: kopf.PRESENT}
    kopf.on.event("batch", "v1", "jobs", labels=training, registry=registry, id="idle-jobs")(ignore)
    kopf.on.event("", "v1", "pods", labels=training, registry=registry, id="idle-training-pods")(ignore)
    kopf.on.event("", "v1", "pods", labels=serving, registry=registry, id="idle-serving-pods")(ignore)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    return registry


def idle_settings() -> kopf.OperatorSettings:
    """Sextant's watch settings (sextant_operator/settings.py with SEXTANT_WATCH_TIMEOUT=60, as the bench runs it)."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.queueing.worker_limit = None
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 90
    settings.watching.connect_timeout = 30
    for group, plural in (("apps", "deployments"), *((g, p) for g, _, p, _ in WATCHED_CHILDREN)):
        settings.watching.label_selectors[(group, plural)] = LABEL_ISVC
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--liveness", required=True, help="e.g. http://127.0.0.1:8080/healthz")
    args = parser.parse_args()
    kopf.configure(log_format=kopf.LogFormat.PLAIN)
    kopf.run(registry=idle_registry(), settings=idle_settings(), standalone=True, namespaces=[args.namespace],
             liveness_endpoint=args.liveness)


if __name__ == "__main__":
    main()
