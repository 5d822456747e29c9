"""Drift monitoring decisions: when a check is due, what the live window holds, what status and retraining follow.

Pure functions over the servers' metrics text, the InferenceService's spec and status, and the clock. The servers
count live values per training-baseline bin in `sextant_feature_bin_total`; a check compares the counts of a
window (the counter growth since the last decided check, per pod, a restarted pod counting from zero) with the
model's baseline. A window with too few values is not a verdict: it keeps growing until it has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sextant_contracts.durations import parse_duration
from sextant_contracts.resources.inferenceservice import DriftStatus, VariantDrift

from .conditions import ConditionState, Status

#: (feature, bin) -> count, for one server.
BinCounts = dict[tuple[str, str], float]
_BIN_SERIES = re.compile(r'^sextant_feature_bin_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)', re.MULTILINE)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
ENGINE_VERDICTS = {"drifted": "Drifted", "no_drift": "NoDrift", "insufficient_data": "InsufficientSamples"}
#: Worst first: the top-level verdict is the worst of the variants'.
VERDICT_ORDER = ("Drifted", "CheckFailed", "InsufficientSamples", "NoDrift")
DAY = timedelta(days=1)
DRIFT_CONDITION = "DriftDetected"


@dataclass(frozen=True)
class DriftSettings:
    """spec.monitoring.drift, parsed once with its defaults."""

    enabled: bool = False
    interval_seconds: float = 300.0
    threshold: float = 0.0
    min_samples: int = 500
    retrain: str | None = None
    retrain_cooldown_seconds: float = 6 * 3600.0
    max_retrains_per_day: int = 2


def drift_settings(spec: Mapping[str, Any]) -> DriftSettings:
    """The drift settings of an InferenceService spec (admission has validated the values)."""
    raw = (spec.get("monitoring") or {}).get("drift") or {}
    return DriftSettings(enabled=bool(raw.get("enabled", False)),
                         interval_seconds=parse_duration(raw.get("interval", "5m")),
                         threshold=float(raw.get("threshold", 0.0)), min_samples=int(raw.get("minSamples", 500)),
                         retrain=raw.get("retrain") or None,
                         retrain_cooldown_seconds=parse_duration(raw.get("retrainCooldown", "6h")),
                         max_retrains_per_day=int(raw.get("maxRetrainsPerDay", 2)))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds_until_due(drift: Mapping[str, Any], settings: DriftSettings, now: str) -> float:
    """0 when a check is due (none yet, or the interval has passed since the last), else the seconds left."""
    checked = drift.get("checkedAt")
    if not checked:
        return 0.0
    elapsed = (_parse_time(now) - _parse_time(checked)).total_seconds()
    return max(0.0, settings.interval_seconds - elapsed)


def feature_bin_counts(metrics_text: str, model: str, version: str) -> BinCounts:
    """One server's bin counters of the given model version, from its Prometheus exposition."""
    counts: BinCounts = {}
    for match in _BIN_SERIES.finditer(metrics_text):
        labels = dict(_LABEL.findall(match.group("labels")))
        if labels.get("model") != model or labels.get("version") != version:
            continue
        key = (labels.get("feature", ""), labels.get("bin", ""))
        counts[key] = counts.get(key, 0.0) + float(match.group("value"))
    return counts


def prometheus_query(namespace: str, model: str, version: str, variant: str) -> str:
    """The PromQL instant query for a variant's bin counters, per pod (the scrape config's `pod` label)."""
    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return (f'sum by (pod, feature, bin) (sextant_feature_bin_total{{namespace="{quoted(namespace)}",'
            f'model="{quoted(model)}",version="{quoted(version)}",variant="{quoted(variant)}"}})')


def prometheus_bin_counts(answer: Mapping[str, Any]) -> dict[str, BinCounts]:
    """Per-pod bin counts from a Prometheus /api/v1/query answer to `prometheus_query`.

    Raises ValueError when the answer is not a successful vector result."""
    if answer.get("status") != "success" or (answer.get("data") or {}).get("resultType") != "vector":
        raise ValueError(f"Prometheus answered {str(answer)[:200]}")
    out: dict[str, BinCounts] = {}
    for series in answer["data"]["result"]:
        labels = series.get("metric", {})
        key = (str(labels.get("feature", "")), str(labels.get("bin", "")))
        out.setdefault(str(labels.get("pod", "")), {})[key] = float(series["value"][1])
    return out


def window_counts(previous: Mapping[str, BinCounts], current: Mapping[str, BinCounts]) -> BinCounts:
    """Counter growth per (feature, bin) summed over pods; a pod new or restarted since `previous` counts whole."""
    total: BinCounts = {}
    for pod, counts in current.items():
        before = previous.get(pod, {})
        restarted = any(value < before.get(key, 0.0) for key, value in counts.items())
        for key, value in counts.items():
            grew = value if restarted else value - before.get(key, 0.0)
            total[key] = total.get(key, 0.0) + grew
    return total


def nested(counts: BinCounts) -> dict[str, dict[str, float]]:
    """{feature: {bin: count}}, the shape the servers' drift check takes."""
    out: dict[str, dict[str, float]] = {}
    for (feature, bin_label), value in counts.items():
        out.setdefault(feature, {})[bin_label] = value
    return out


def best_coverage(counts: BinCounts) -> int:
    """Values seen by the best-covered feature (missing values included)."""
    per_feature: dict[str, float] = {}
    for (feature, _), value in counts.items():
        per_feature[feature] = per_feature.get(feature, 0.0) + value
    return round(max(per_feature.values(), default=0.0))


def variant_result(name: str, model: Mapping[str, Any], report: Mapping[str, Any], settings: DriftSettings,
                   window_start: str, report_uri: str | None) -> VariantDrift:
    """A variant's status entry from the servers' drift report (the engine's verdict and the threshold)."""
    verdict = ENGINE_VERDICTS.get(str(report.get("verdict")), "CheckFailed")
    score = float(report.get("score", 0.0))
    drifted = [str(f) for f in report.get("driftedFeatures", [])]
    if verdict == "Drifted" and score < settings.threshold:
        verdict = "NoDrift"
    samples = int(report.get("samples", 0))
    if verdict == "Drifted":
        message = f"{', '.join(drifted)} drifted (score {score:.3f}, {samples} live values)"
    elif verdict == "InsufficientSamples":
        message = f"some features have fewer than {settings.min_samples} live values; the window keeps growing"
    else:
        message = (f"no feature drifted enough (score {score:.3f} under threshold {settings.threshold})"
                   if drifted else f"no feature drifted ({samples} live values)")
    out: VariantDrift = {"name": name, "model": dict(model), "verdict": verdict,  # type: ignore[typeddict-item]
                         "score": round(score, 4), "driftedFeatures": drifted, "samples": samples,
                         "windowStart": window_start, "message": message}
    if report_uri:
        out["report"] = report_uri
    return out


def waiting_result(name: str, model: Mapping[str, Any], samples: int, settings: DriftSettings,
                   window_start: str, why: str | None = None) -> VariantDrift:
    """A variant whose window is still too small (or whose servers could not be asked: `why`)."""
    verdict = "CheckFailed" if why else "InsufficientSamples"
    message = why or (f"{samples} live values since {window_start}, {settings.min_samples} needed; the window "
                      f"keeps growing")
    return {"name": name, "model": dict(model), "verdict": verdict,  # type: ignore[typeddict-item]
            "samples": samples, "windowStart": window_start, "message": message}


def summarize(variants: Sequence[VariantDrift], checked_at: str, retrain_requests: Iterable[str]) -> DriftStatus:
    """status.drift from the variants' results: the worst verdict, the highest score, every drifted feature."""
    worst = min(variants, key=lambda v: (VERDICT_ORDER.index(v.get("verdict", "CheckFailed")), -v.get("score", 0)))
    status: DriftStatus = {
        "verdict": worst.get("verdict", "CheckFailed"), "score": max(v.get("score", 0.0) for v in variants),
        "driftedFeatures": [f"{v['name']}/{f}" for v in variants for f in v.get("driftedFeatures", [])],
        "samples": sum(v.get("samples", 0) for v in variants), "checkedAt": checked_at,
        "variants": list(variants), "retrainRequests": list(retrain_requests)}
    if "report" in worst:
        status["report"] = worst["report"]
    return status


def recent_requests(requests: Iterable[str], now: str) -> list[str]:
    """The retraining requests of the last 24 hours."""
    cutoff = _parse_time(now) - DAY
    return [r for r in requests if _parse_time(r) > cutoff]


def retrain_refusal(drift: DriftStatus, previous: Sequence[str], settings: DriftSettings, now: str) -> str | None:
    """None when a retraining run should be requested now; else why not (said in the Event)."""
    if drift.get("verdict") != "Drifted" or not settings.retrain:
        return "no drift" if settings.retrain else "spec.monitoring.drift.retrain names no TrainingJob"
    recent = recent_requests(previous, now)
    if len(recent) >= settings.max_retrains_per_day:
        return (f"{len(recent)} retraining requests in the last 24 hours "
                f"(maxRetrainsPerDay {settings.max_retrains_per_day})")
    if recent:
        since = (_parse_time(now) - max(_parse_time(r) for r in recent)).total_seconds()
        if since < settings.retrain_cooldown_seconds:
            return f"the last request was {since:.0f}s ago, within retrainCooldown"
    return None


def drift_condition(drift: Mapping[str, Any], enabled: bool) -> ConditionState:
    """The DriftDetected condition, from status.drift (which the drift monitor writes)."""
    if not enabled:
        return ConditionState(DRIFT_CONDITION, "Unknown", "MonitoringDisabled",
                              "spec.monitoring.drift.enabled is false")
    verdict = drift.get("verdict")
    if not verdict:
        return ConditionState(DRIFT_CONDITION, "Unknown", "NotChecked", "no drift check has run yet")
    detail = "; ".join(f"{v.get('name')}: {v.get('message', '')}" for v in drift.get("variants", []))
    status: Status = {"Drifted": "True", "NoDrift": "False"}.get(str(verdict), "Unknown")  # type: ignore[assignment]
    return ConditionState(DRIFT_CONDITION, status, str(verdict), detail)
