"""The Python API: one call runs every step in order and returns the result document the operator stores."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sextant_contracts.errors import ContractError
from sextant_contracts.manifest import AcceptanceResult, Manifest
from sextant_contracts.storage import ArtifactStore, open_store
from sextant_pipelines import accept, model_report, register, report, steps
from sextant_pipelines.budget import RunClock
from sextant_pipelines.errors import PipelineError
from sextant_pipelines.evaluate import Evaluation
from sextant_pipelines.metrics import metric_for
from sextant_pipelines.progress import progress_reporter
from sextant_pipelines.spec import TrainingSpec, parse_spec

log = logging.getLogger("sextant.pipelines")
RESULT_API_VERSION = "ml.sextant.io/training-result-v1"


@dataclass(frozen=True)
class RunContext:
    """Where to store things and who asked: the lineage the operator passes in."""

    store_uri: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    training_job: dict[str, Any] = field(default_factory=dict)
    backend: str = "local"


def code_version() -> str:
    try:
        return f"sextant-pipelines {version('sextant-pipelines')}"
    except PackageNotFoundError:
        return "sextant-pipelines (source)"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(spec: TrainingSpec, context: RunContext, trained_on: steps.TrainedOn, fitted: steps.Fitted,
                   evaluation: Evaluation, acceptance: list[AcceptanceResult], version_: int, sha: str) -> Manifest:
    target: dict[str, Any] | None = None
    if trained_on.target is not None:
        target = {"name": trained_on.target}
        if spec.task == "classification":
            target["classes"] = [c.item() if hasattr(c, "item") else c for c in fitted.model.classes_]
    return Manifest(
        name=spec.model_name, version=version_, task=spec.task, algorithm=fitted.algorithm,
        params=json.loads(json.dumps(fitted.params, default=str)), feature_schema=trained_on.profile.schema,
        target=target, metrics=evaluation.metrics, baseline=trained_on.profile.baseline, artifact_sha256=sha,
        accepted=all(a.passed for a in acceptance), acceptance=acceptance,
        lineage={"trainingJob": context.training_job, "runId": context.run_id,
                 "dataset": {"uri": trained_on.dataset_uri, "sha256": trained_on.dataset_sha256},
                 "codeVersion": code_version(), "createdAt": _now()},
    )


def write_profile(store: ArtifactStore, context: RunContext, spec: TrainingSpec, prof: Any) -> dict[str, str]:
    """Store the profile (JSON, machine-readable) and the data-quality report (HTML) of this run."""
    base = f"runs/{context.run_id}"
    store.write(f"{base}/profile.json", json.dumps(prof.to_dict(), indent=2, default=str).encode())
    page = report.render_report(prof, f"Data quality: {spec.dataset.uri} for model {spec.model_name}")
    store.write(f"{base}/data-quality.html", page.encode())
    return {"profile": f"{store.uri}/{base}/profile.json", "report": f"{store.uri}/{base}/data-quality.html"}


def finish(spec: TrainingSpec, context: RunContext, store: ArtifactStore, trained_on: steps.TrainedOn,
           fitted: steps.Fitted, evaluation: Evaluation, artifacts: dict[str, str], started: float) -> dict[str, Any]:
    """Steps accept + register + promote, then the result document (also written to runs/<id>/result.json)."""
    acceptance = steps.accept_step(spec, evaluation)
    owner = f"{context.training_job.get('namespace', '')}/{context.training_job.get('name', '')}/{context.run_id}"
    manifest = register.register(
        store, spec.model_name, fitted.model,
        lambda v, sha: build_manifest(spec, context, trained_on, fitted, evaluation, acceptance, v, sha), owner,
        {"runId": context.run_id, "task": spec.task, "algorithm": fitted.algorithm})
    alias = register.promote(store, manifest, spec.promote)
    result = result_document(spec, context, store, fitted, evaluation, manifest, alias, artifacts, started)
    write_result(store, context.run_id, result)
    return result


def write_result(store: ArtifactStore, run_id: str, document: Mapping[str, Any]) -> None:
    """The run's result document (or failure document) where the operator reads it: runs/<run>/result.json."""
    store.write(f"runs/{run_id}/result.json", json.dumps(document, indent=2).encode())


def result_document(spec: TrainingSpec, context: RunContext, store: ArtifactStore, fitted: steps.Fitted,
                    evaluation: Evaluation, manifest: Manifest, alias: str | None, artifacts: dict[str, str],
                    started: float) -> dict[str, Any]:
    """The one JSON document the operator copies into TrainingJob status."""
    failures = accept.describe_failures(manifest.acceptance)
    search = {k: v for k, v in fitted.search.items() if k != "history"}
    trials = search.pop("trials", {"total": 0, "succeeded": 0, "failed": 0, "pruned": 0})
    return {
        "apiVersion": RESULT_API_VERSION, "status": "Succeeded", "runId": context.run_id, "task": spec.task,
        "mode": fitted.mode, "objective": steps.objective_of(spec),
        "best": {"algorithm": fitted.algorithm, "params": manifest.params, "metrics": manifest.metrics},
        "metrics": manifest.metrics, **evaluation.extras, "crossValidation": evaluation.cv,
        **evaluated_on(fitted, evaluation),
        "trials": trials, "search": search, **({"leaderboard": board} if (board := leaderboard(spec, fitted)) else {}),
        "accepted": manifest.accepted, "acceptance": [a.to_dict() for a in manifest.acceptance],
        "failedCriteria": failures,
        "model": {"name": manifest.name, "version": manifest.version, "digest": f"sha256:{manifest.artifact_sha256}",
                  "uri": f"{store.uri}/models/{manifest.name}/{manifest.version}", "promotedTo": alias},
        "artifacts": artifacts, "durationSeconds": round(time.perf_counter() - started, 3),
    }


LEADERBOARD_SIZE = 10


def leaderboard(spec: TrainingSpec, fitted: steps.Fitted) -> list[dict[str, Any]]:
    """The best completed trials (and the ensembles tried), best first: algorithm, params, cross-validated
    objective value (in the metric's own sign) and seconds; empty for a single estimator."""
    objective = steps.objective_of(spec)
    sign = 1.0 if metric_for(spec.task, objective, "objective.metric").maximize else -1.0
    rows = [{"algorithm": t["algorithm"], "params": json.loads(json.dumps(t["params"], default=str)),
             "score": t["score"], "seconds": t["seconds"], "trial": t["number"]}
            for t in fitted.search.get("history", []) if t["state"] == "complete"]
    rows += [{"algorithm": f"{kind}_ensemble", "params": {}, "score": score, "seconds": None, "trial": None}
             for kind, score in (fitted.search.get("ensembleScores") or {}).items()]
    rows.sort(key=lambda r: -r["score"])
    return [{"rank": i + 1, **r, "score": sign * r["score"], "metric": objective}
            for i, r in enumerate(rows[:LEADERBOARD_SIZE])]


def evaluated_on(fitted: steps.Fitted, evaluation: Evaluation) -> dict[str, Any]:
    """What the reported figures were computed on, when the registered model learnt from more rows than the
    model the holdout scored (AutoML's final refit on all rows)."""
    if not fitted.final_fit:
        return {}
    scored = "the model fitted on the training rows, before the final refit" \
        if fitted.final_fit["fittedOn"].startswith("all") else "the registered model"
    out: dict[str, Any] = {"finalModel": fitted.final_fit, "metricsOn": f"holdout rows, scored with {scored}"}
    if fitted.search.get("bestScore") is not None:
        out["searchScoreOn"] = "cross-validation on the training rows (mean over folds, the search's objective)"
    if evaluation.cv is not None:
        out["crossValidationOn"] = "the training rows, with the final configuration"
    return out


def failure_document(exc: BaseException, context: RunContext) -> dict[str, Any]:
    """The result document for a run that failed: a reason word, the message and the fix."""
    if isinstance(exc, ContractError):
        reason = getattr(exc, "reason", "StorageFailed") if isinstance(exc, PipelineError) else "StorageFailed"
        return {"apiVersion": RESULT_API_VERSION, "status": "Failed", "runId": context.run_id, "reason": reason,
                "message": exc.message, "fix": exc.fix, "retryable": not exc.permanent}
    return {"apiVersion": RESULT_API_VERSION, "status": "Failed", "runId": context.run_id, "reason": "InternalError",
            "message": f"{type(exc).__name__}: {exc}", "fix": "report a bug with the job's logs.", "retryable": True}


def write_model_report(store: ArtifactStore, context: RunContext, spec: TrainingSpec, prepared: steps.Prepared,
                       fitted: steps.Fitted, evaluation: Evaluation, clock: RunClock) -> str:
    """Store the model report (HTML) of the model the holdout scored; returns its URI."""
    started = time.perf_counter()
    scoring = "r2" if spec.task == "regression" else "accuracy"
    importance = ({}, "") if prepared.test_y is None else model_report.importances(
        fitted.model, prepared.test_X, prepared.test_y, scoring, spec.split.seed, clock,
        reserved=steps.all_rows_refit_seconds(spec, prepared, fitted))
    page = model_report.render_model_report(
        f"Model report: {spec.model_name} ({fitted.algorithm})", spec.task, fitted.model, prepared.test_X,
        prepared.test_y, evaluation.metrics, evaluation.extras, leaderboard(spec, fitted), importance)
    key = f"runs/{context.run_id}/model-report.html"
    store.write(key, page.encode())
    log.info("model report written in %.2f s", time.perf_counter() - started)
    return f"{store.uri}/{key}"


def run_training(spec_doc: dict[str, Any] | TrainingSpec, context: RunContext,
                 searched: Any = None) -> dict[str, Any]:
    """Run every step in-process. Returns the result document; raises PipelineError/ContractError on failure
    (nothing is registered unless every step before register succeeded)."""
    started = time.perf_counter()
    spec = spec_doc if isinstance(spec_doc, TrainingSpec) else parse_spec(spec_doc)
    if spec.dask is not None:
        from sextant_pipelines.dask_flow import run_on_dask  # dask_flow builds on this module

        return run_on_dask(spec, context)
    clock = RunClock(spec.automl.time_budget_s if spec.automl else None)  # automl.timeBudget: ingest to register
    steps.check_plan(spec)
    store = open_store(context.store_uri)
    log.info("run %s: %s model %r from %s (%s)", context.run_id, spec.task, spec.model_name, spec.dataset.uri,
             spec.mode)
    prepared = steps.prepare(spec)
    artifacts = write_profile(store, context, spec, prepared.profile)
    if spec.automl:
        log.info("registration libraries loaded in %.2f s (before the search, inside the time budget)",
                 register.load_writer())
    fitted = steps.fit(spec, prepared, searched, progress_reporter(store, context.run_id), clock)
    evaluation = steps.evaluate_step(spec, prepared, fitted)
    if spec.task in ("classification", "regression"):
        artifacts["modelReport"] = write_model_report(store, context, spec, prepared, fitted, evaluation, clock)
    fitted = steps.refit_on_all_rows(spec, prepared, fitted, clock)
    result = finish(spec, context, store, prepared.trained_on, fitted, evaluation, artifacts, started)
    log.info("run %s finished in %.1f s: model %s version %d (%s)", context.run_id, result["durationSeconds"],
             spec.model_name, result["model"]["version"], "accepted" if result["accepted"] else "not accepted")
    return result
