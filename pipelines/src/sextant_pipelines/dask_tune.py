"""Tuning on Dask: each trial trains across all the workers (XGBoost streamed, LightGBM in memory) on the
training partitions less a validation set of whole partitions, and is scored by the served model on that set.

Trials run one after another, each spread over every worker: a trial's data is the whole training set, which
need not fit in memory, so trials cannot share the workers' memory side by side. The trials are drawn as the
single-process search draws them (tune.py: the grid, a seeded random sample, or Optuna's TPE asked and told in
this process, where the study lives as long as the run), and the best configuration is then trained on every
training partition.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import optuna

from sextant_pipelines import dask_model, metrics, steps, tune
from sextant_pipelines.crossval import TrialResult
from sextant_pipelines.dask_train import Design, fit_model, hold_out, scores
from sextant_pipelines.spec import TrainingSpec

log = logging.getLogger("sextant.pipelines.dask")
#: Share of the training partitions that scores the trials (whole partitions, at least one).
VALIDATION_FRACTION = 0.2


def _plan(spec: TrainingSpec, seed: int) -> tuple[list[dict[str, Any]] | None, optuna.Study | None, int]:
    tuning = spec.tuning
    assert tuning is not None
    if tuning.strategy == "bayesian":
        return None, tune.tpe_study(seed, tuning.max_trials), tuning.max_trials
    plan = (tune.grid_plan if tuning.strategy == "grid" else tune.random_plan)(tuning.search_space,
                                                                                tuning.max_trials, seed)
    return plan, None, len(plan)


def search(client: Any, spec: TrainingSpec, design: Design, train: Any,
           threads: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Run the trials; returns the algorithm, the best parameters and the search summary (result document)."""
    tuning = spec.tuning
    assert tuning is not None
    seed, objective = spec.split.seed, steps.objective_of(spec)
    split = hold_out(train, VALIDATION_FRACTION, seed + 1)
    plan, study, total = _plan(spec, seed)
    distributions = {p.name: tune.optuna_distribution(p) for p in tuning.search_space}
    log.info("tuning on Dask: %d trials of %s, each across the workers, scored on %s", total, tuning.algorithm,
             split.description)
    trials: list[TrialResult] = []
    for number in range(total):
        asked = study.ask(distributions) if study is not None else None
        drawn = plan[number] if plan is not None else {k: v for k, v in asked.params.items()}  # type: ignore[union-attr]
        params = {**tuning.params, **drawn}
        started = time.perf_counter()
        try:
            arguments = dask_model.estimator_params(spec.task, tuning.algorithm, params, design.columns, threads,
                                                    seed)
            model = fit_model(client, spec.task, tuning.algorithm, arguments, design, split.train)
            values, _, _ = scores(spec, design, model, split.test)
            result = TrialResult(number, tuning.algorithm, drawn, score=metrics.signed(spec.task, objective, values),
                                 seconds=time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a trial's failure is recorded; the search goes on
            result = TrialResult(number, tuning.algorithm, drawn, state="failed", error=f"{type(exc).__name__}: "
                                 f"{exc}", seconds=time.perf_counter() - started)
        if study is not None and asked is not None:
            tune.tell(study, asked, result)
        tune.log_trial(result, total)
        trials.append(result)
    outcome = tune.SearchOutcome(tune.best_trial(trials, "tuning"), trials)
    summary = {"trials": outcome.counts(), "bestScore": outcome.best.score, "bestTrial": outcome.best.number,
               "history": [t.summary() for t in trials], "strategy": tuning.strategy,
               "validation": {**split.description, "of": "the training partitions"}}
    return tuning.algorithm, {**tuning.params, **outcome.best.params}, summary
