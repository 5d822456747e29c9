"""The bodies of the KFP components: each reads its inputs from artifact paths, runs one step, writes outputs.

A step that fails writes the trainer's failure document (reason, message, fix) to the run's result.json in the
store before it exits, as `sextant-train` does for a Job: KFP's run API says only that the run FAILED and which
step, so that document is where the operator finds why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

from sextant_contracts.storage import open_store
from sextant_pipelines import flow, handoff, report, steps
from sextant_pipelines.spec import parse_spec

log = logging.getLogger("sextant.pipelines.kfp")


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def _context(store_uri: str, run_id: str, training_job_json: str) -> flow.RunContext:
    return flow.RunContext(store_uri, run_id, json.loads(training_job_json or "{}"), backend="kubeflow")


@contextlib.contextmanager
def failure_recorded(store_uri: str, run_id: str) -> Iterator[None]:
    """Log the step's error with its fix and write the failure document to runs/<run>/result.json; re-raise so
    KFP fails the step."""
    _setup_logging()
    try:
        yield
    except Exception as exc:
        document = flow.failure_document(exc, flow.RunContext(store_uri, run_id=run_id))
        log.error("step failed: %s%s", document["message"], f" Fix: {document['fix']}" if document.get("fix") else "")
        try:
            flow.write_result(open_store(store_uri), run_id, document)
        except Exception as unwritten:  # noqa: BLE001 - the step's own error matters more; KFP still fails it
            log.warning("cannot write the failure document to the store: %s", unwritten)
        raise


def prepare_component(spec_json: str, store_uri: str, run_id: str, training_job_json: str, prepared_dir: str,
                      report_path: str) -> None:
    with failure_recorded(store_uri, run_id):
        spec = parse_spec(json.loads(spec_json))
        steps.check_plan(spec)
        prepared = steps.prepare(spec)
        context = _context(store_uri, run_id, training_job_json)
        flow.write_profile(open_store(store_uri), context, spec, prepared.profile)
        handoff.save_prepared(prepared, prepared_dir)
        with open(report_path, "w", encoding="utf-8") as handle:
            handle.write(report.render_report(prepared.profile, f"Data quality: {spec.dataset.uri}"))


def fit_component(spec_json: str, store_uri: str, run_id: str, prepared_dir: str, model_dir: str) -> None:
    with failure_recorded(store_uri, run_id):
        spec = parse_spec(json.loads(spec_json))
        handoff.save_fitted(steps.fit(spec, handoff.load_prepared(prepared_dir)), model_dir)


def evaluate_component(spec_json: str, store_uri: str, run_id: str, prepared_dir: str, model_dir: str,
                       evaluation_path: str) -> dict[str, float]:
    with failure_recorded(store_uri, run_id):
        spec = parse_spec(json.loads(spec_json))
        evaluation = steps.evaluate_step(spec, handoff.load_prepared(prepared_dir), handoff.load_fitted(model_dir))
        handoff.save_evaluation(evaluation, evaluation_path)
        return evaluation.metrics


def register_component(spec_json: str, store_uri: str, run_id: str, training_job_json: str, prepared_dir: str,
                       model_dir: str, evaluation_path: str, result_path: str) -> dict[str, Any]:
    with failure_recorded(store_uri, run_id):
        started = time.perf_counter()
        spec = parse_spec(json.loads(spec_json))
        context = _context(store_uri, run_id, training_job_json)
        store = open_store(store_uri)
        artifacts = {"profile": f"{store.uri}/runs/{run_id}/profile.json",
                     "report": f"{store.uri}/runs/{run_id}/data-quality.html"}
        result = flow.finish(spec, context, store, handoff.load_prepared(prepared_dir).trained_on,
                             handoff.load_fitted(model_dir), handoff.load_evaluation(evaluation_path), artifacts,
                             started)
        with open(result_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
        return result
