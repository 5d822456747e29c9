"""Checks each monitored InferenceService's variants for data drift at its own interval, and asks for retraining.

Called by the serving reconciler at the end of every reconcile; it answers with the seconds until the next check
is due, which the reconciler's requeue honours (kopf timers have one fixed interval; this is per object). The
window of each variant lives here in memory: after an operator restart the next window counts from the servers'
start, which is never too little data, only more. What was decided (status.drift, the retraining requests) lives
in the object's status, so a restart repeats nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from sextant_contracts.errors import ContractError
from sextant_contracts.resources.inferenceservice import VariantDrift
from sextant_contracts.storage import ArtifactStore, open_store

from ..reconcile.drift_monitoring import (
    BinCounts,
    DriftSettings,
    best_coverage,
    drift_settings,
    feature_bin_counts,
    nested,
    prometheus_bin_counts,
    prometheus_query,
    recent_requests,
    retrain_refusal,
    seconds_until_due,
    summarize,
    variant_result,
    waiting_result,
    window_counts,
)
from ..reconcile.serving_instances import PodView
from ..reconcile.serving_manifests import SERVER_PORT
from .kube_actions import KubeActions
from .operator_metrics import OperatorMetrics

log = logging.getLogger("sextant.operator.drift")
SCRAPE_TIMEOUT, CHECK_TIMEOUT = 2.0, 30.0
PLURAL = "inferenceservices"
WindowKey = tuple[str, str, str, str]  # namespace, InferenceService, variant, model version


@dataclass
class Window:
    """Counter values at the start of a variant's window, per pod."""

    start: str
    snapshot: dict[str, BinCounts] = field(default_factory=dict)


def _http(url: str, body: bytes | None = None, timeout: float = SCRAPE_TIMEOUT) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http to a pod IP
        return bytes(resp.read())


class DriftReports:
    """Writes the HTML reports beside the registry, in the operator's own store."""

    def __init__(self, store_uri: str | None) -> None:
        self.store_uri = store_uri
        self._store: ArtifactStore | None = None

    def write(self, key: str, page: str) -> str | None:
        """The report's URI, or None when there is no store or it refused the write (logged)."""
        if not self.store_uri:
            return None
        try:
            if self._store is None:
                self._store = open_store(self.store_uri)
            self._store.write(key, page.encode())
        except (ContractError, OSError) as exc:
            log.warning("cannot write the drift report %s: %s; status links no report", key, exc)
            return None
        return f"{self.store_uri.rstrip('/')}/{key}"


class DriftMonitor:
    """Per-variant windows of live counts, the checks, and what follows from them."""

    def __init__(self, actions: KubeActions, reports: DriftReports, metrics: OperatorMetrics,
                 prometheus_url: str | None = None) -> None:
        self.actions, self.reports, self.metrics = actions, reports, metrics
        self.prometheus_url = prometheus_url
        self._windows: dict[WindowKey, Window] = {}

    async def check_if_due(self, body: Mapping[str, Any], pods: list[PodView], now: str) -> float | None:
        """Check every variant when due; the seconds until the next check, or None when not monitored."""
        settings = drift_settings(body.get("spec") or {})
        status = body.get("status") or {}
        if not settings.enabled:
            return None
        due_in = seconds_until_due(status.get("drift") or {}, settings, now)
        if due_in > 0:
            return due_in
        meta = body["metadata"]
        results = [await self._check_variant(meta["namespace"], meta["name"], v, pods, settings, now)
                   for v in status.get("variants", []) if (v.get("model") or {}).get("version")]
        if not results:
            return settings.interval_seconds
        previous = recent_requests((status.get("drift") or {}).get("retrainRequests", []), now)
        drift = summarize(results, now, previous)
        refusal = retrain_refusal(drift, previous, settings, now)
        if refusal is None and await self._request_retrain(body, cast(str, settings.retrain), drift, now):
            drift["retrainRequests"] = [*previous, now]
        if await asyncio.to_thread(self.actions.patch_status, meta["namespace"], meta["name"], {"drift": drift},
                                   PLURAL):
            self._announce(body, drift, refusal)
        return settings.interval_seconds

    async def _check_variant(self, namespace: str, isvc: str, variant: Mapping[str, Any], pods: list[PodView],
                             settings: DriftSettings, now: str) -> VariantDrift:
        name, model = str(variant["name"]), variant["model"]
        version = str(model["version"])
        serving = [p for p in pods if p.variant == name and p.version == int(version) and p.ip and p.ready]
        key = (namespace, isvc, name, version)
        window = self._windows.setdefault(key, Window(start=now))
        current = await self._current_counts(namespace, name, str(model["name"]), version, serving)
        if not current or not serving:
            source = "Prometheus had no sextant_feature_bin_total series" if self.prometheus_url else \
                "no ready model server answered /metrics"
            return waiting_result(name, model, 0, settings, window.start,
                                  why=f"{source} for this variant; checking again next interval")
        live = window_counts(window.snapshot, current)
        samples = best_coverage(live)
        if samples < settings.min_samples:
            return waiting_result(name, model, samples, settings, window.start)
        try:
            report = await asyncio.to_thread(self._ask, cast(str, serving[0].ip), live, settings)
        except (OSError, ValueError) as exc:
            return waiting_result(name, model, samples, settings, window.start,
                                  why=f"the model server could not check drift ({exc}); trying again next interval")
        uri = self.reports.write(f"drift-reports/{namespace}/{isvc}/{name}/{now.replace(':', '')}.html",
                                 str(report.pop("html", "")))
        result = variant_result(name, model, report, settings, window.start, uri)
        if result["verdict"] != "InsufficientSamples":
            self._windows[key] = Window(start=now, snapshot=current)
        self.metrics.record_drift(namespace, isvc, name, report.get("features", []), result["verdict"] == "Drifted")
        return result

    async def _current_counts(self, namespace: str, variant: str, model: str, version: str,
                              serving: list[PodView]) -> dict[str, BinCounts]:
        """Each server's bin counters now: from Prometheus when the operator is given one, else from the pods."""
        if self.prometheus_url:
            query = urllib.parse.urlencode({"query": prometheus_query(namespace, model, version, variant)})
            try:
                answer = await asyncio.to_thread(_http, f"{self.prometheus_url.rstrip('/')}/api/v1/query?{query}")
                return prometheus_bin_counts(json.loads(answer))
            except (OSError, ValueError) as exc:
                log.warning("cannot read live counts from Prometheus (%s); will try again next interval", exc)
                return {}
        return {p.name: counts for p in serving
                if (counts := await asyncio.to_thread(self._scrape, cast(str, p.ip), model, version)) is not None}

    @staticmethod
    def _scrape(ip: str, model: str, version: str) -> BinCounts | None:
        try:
            return feature_bin_counts(_http(f"http://{ip}:{SERVER_PORT}/metrics").decode(), model, version)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _ask(ip: str, live: BinCounts, settings: DriftSettings) -> dict[str, Any]:
        body = json.dumps({"live": nested(live), "policy": {"minSamples": settings.min_samples}, "html": True})
        try:
            answer = _http(f"http://{ip}:{SERVER_PORT}/drift", body.encode(), CHECK_TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise ValueError(f"HTTP {exc.code}: {exc.read(2000).decode('utf-8', 'replace')}") from None
        return cast(dict[str, Any], json.loads(answer))

    async def _request_retrain(self, body: Mapping[str, Any], trainingjob: str, drift: Mapping[str, Any],
                               now: str) -> bool:
        namespace = body["metadata"]["namespace"]
        trigger = f"drift {body['metadata']['name']} {now}"
        done = await asyncio.to_thread(self.actions.set_trainingjob_trigger, namespace, trainingjob, trigger)
        features = ", ".join(drift.get("driftedFeatures", []))
        if done:
            kopf.event(cast(kopf.Body, body), type="Normal", reason="RetrainRequested",
                       message=f"drift in {features}: asked TrainingJob {trainingjob} for a new run")
        else:
            kopf.event(cast(kopf.Body, body), type="Warning", reason="RetrainFailed",
                       message=f"drift in {features}, but TrainingJob {namespace}/{trainingjob} does not exist; "
                               f"create it or fix spec.monitoring.drift.retrain")
        return done

    @staticmethod
    def _announce(body: Mapping[str, Any], drift: Mapping[str, Any], refusal: str | None) -> None:
        before = ((body.get("status") or {}).get("drift") or {}).get("verdict")
        verdict = drift.get("verdict")
        if verdict == before:
            return
        detail = "; ".join(f"{v['name']}: {v.get('message', '')}" for v in drift.get("variants", []))
        if verdict == "Drifted":
            suffix = f" (no retraining: {refusal})" if refusal and refusal != "no drift" else ""
            kopf.event(cast(kopf.Body, body), type="Warning", reason="DriftDetected", message=detail + suffix)
        elif verdict == "NoDrift" and before == "Drifted":
            kopf.event(cast(kopf.Body, body), type="Normal", reason="DriftCleared", message=detail)
