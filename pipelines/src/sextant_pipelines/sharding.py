"""Tuning fan-out for a Kubernetes Indexed Job: each pod evaluates one shard of trials and stores the results;
a final `run --trials-from-store` gathers them and continues with refit, evaluate, accept and register."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from sextant_contracts.errors import ObjectNotFound
from sextant_contracts.storage import open_store
from sextant_pipelines import flow, steps, tune
from sextant_pipelines.crossval import TrialResult, cross_validate
from sextant_pipelines.errors import SpecError, TrainingError
from sextant_pipelines.spec import TrainingSpec, TuningSpec, parse_spec

log = logging.getLogger("sextant.pipelines.sharding")


def _tuning(spec: TrainingSpec) -> TuningSpec:
    if spec.tuning is None:
        raise SpecError("tuning", "trial shards need a tuning spec.", "set spec.tuning or run without shards.")
    return spec.tuning


def shard_plan(tuning: TuningSpec, seed: int, index: int, count: int) -> list[tuple[int, dict[str, Any]]]:
    """The (trial number, params) this shard evaluates: every count-th point of the grid/random plan."""
    planner = tune.grid_plan if tuning.strategy == "grid" else tune.random_plan
    plan = planner(tuning.search_space, tuning.max_trials, seed)
    return [(n, plan[n]) for n in range(index, len(plan), count)]


def run_shard(spec_doc: dict[str, Any], store_uri: str, run_id: str, index: int, count: int) -> dict[str, Any]:
    """Evaluate shard `index` of `count`; Bayesian shards run independent TPE searches seeded per shard."""
    spec = parse_spec(spec_doc)
    tuning = _tuning(spec)
    if not 0 <= index < count:
        raise SpecError("index", f"shard index {index} is outside 0..{count - 1}.", "match the Job's completions.")
    steps.check_plan(spec)
    prepared = steps.prepare(spec)
    problem = steps.problem_for(spec, prepared, tuning.cv_folds, tuning.params)
    if tuning.strategy == "bayesian":
        per_shard = math.ceil(tuning.max_trials / count)
        sub = TuningSpec(**{**tuning.__dict__, "max_trials": per_shard,
                            "parallel_trials": min(tuning.parallel_trials, per_shard)})
        problem.seed = spec.split.seed + index
        outcome = tune.run_batches(problem, sub)
        results = [TrialResult(index * per_shard + t.number, t.algorithm, t.params, t.state, t.score, t.fold_scores,
                               t.seconds, t.error) for t in outcome.trials]
    else:
        stopping = tune.median_stopping(tuning)
        results = []
        planned = shard_plan(tuning, spec.split.seed, index, count)
        for number, params in planned:
            result = cross_validate(problem, number, tuning.algorithm, {**tuning.params, **params},
                                    stopping.frozen() if stopping else None)
            if stopping:
                stopping.record(result)
            tune.log_trial(result, tuning.max_trials)
            results.append(result)
    doc = {"index": index, "count": count, "trials": [r.summary() | {"foldScores": r.fold_scores} for r in results]}
    open_store(store_uri).write(f"runs/{run_id}/trials/shard-{index}.json", json.dumps(doc).encode())
    return {"apiVersion": flow.RESULT_API_VERSION, "status": "Succeeded", "runId": run_id, "shard": index,
            "trials": tune.SearchOutcome(results[0], results).counts() if results else {"total": 0}}


def gather(store_uri: str, run_id: str) -> tune.SearchOutcome:
    """Read every shard's trials; raises TrainingError when a shard is missing."""
    store = open_store(store_uri)
    try:
        first = json.loads(store.read(f"runs/{run_id}/trials/shard-0.json"))
        docs = [first] + [json.loads(store.read(f"runs/{run_id}/trials/shard-{i}.json"))
                          for i in range(1, int(first["count"]))]
    except ObjectNotFound as exc:
        raise TrainingError(f"tuning shard results of run {run_id} are incomplete: {exc.message}",
                            "wait for every Indexed Job pod to succeed, or rerun the failed index.") from None
    trials = [TrialResult(t["number"], t["algorithm"], t["params"], t["state"],
                          t["score"] if t["score"] is not None else float("-inf"), t["foldScores"], t["seconds"],
                          t.get("error", "")) for doc in docs for t in doc["trials"]]
    trials.sort(key=lambda t: t.number)
    log.info("gathered %d trials from %d shards of run %s", len(trials), len(docs), run_id)
    return tune.SearchOutcome(tune.best_trial(trials, "tuning"), trials)


def run_with_stored_trials(spec_doc: dict[str, Any], context: flow.RunContext) -> dict[str, Any]:
    spec = parse_spec(spec_doc)
    _tuning(spec)
    return flow.run_training(spec, context, gather(context.store_uri, context.run_id))
