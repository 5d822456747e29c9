"""Tune: grid, random and Bayesian (TPE) search over a declared space, with CV, parallel trials and median stopping."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed
from scipy import stats
from sklearn.model_selection import ParameterGrid, ParameterSampler

from sextant_pipelines.catalogue import check_params
from sextant_pipelines.crossval import Problem, ShouldStop, TrialResult, cross_validate
from sextant_pipelines.errors import SpecError, TrainingError
from sextant_pipelines.spec import ParamSpace, TuningSpec

log = logging.getLogger("sextant.pipelines.tune")
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class SearchOutcome:
    best: TrialResult
    trials: list[TrialResult]

    def counts(self) -> dict[str, int]:
        states = [t.state for t in self.trials]
        return {"total": len(states), "succeeded": states.count("complete"), "failed": states.count("failed"),
                "pruned": states.count("pruned")}


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_space(task: str, spec: TuningSpec) -> None:
    """Every searched name must be a hyperparameter of the algorithm and both bounds must be valid values."""
    check_params(task, spec.algorithm, spec.params, "tuning.params")
    for p in spec.search_space:
        probes = p.values if p.values is not None else [_cast(p, p.low), _cast(p, p.high)]
        for value in probes:
            try:
                check_params(task, spec.algorithm, {**spec.params, p.name: value}, "tuning.searchSpace")
            except SpecError as exc:
                raise SpecError(f"tuning.searchSpace.{p.name}", exc.message.split(": ", 1)[-1], exc.fix) from None


def _cast(p: ParamSpace, value: Any) -> Any:
    return int(value) if p.type == "int" else float(value)


def grid_values(p: ParamSpace) -> list[Any]:
    if p.values is not None:
        return list(p.values)
    low, high, step = float(p.low or 0), float(p.high or 0), p.step or 1  # bounds are checked by parse_spec
    count = int(np.floor((high - low) / step + 1e-9)) + 1
    return [_cast(p, low + i * step) for i in range(count)]


def grid_plan(space: list[ParamSpace], max_trials: int, seed: int) -> list[dict[str, Any]]:
    """scikit-learn's ParameterGrid in its stable order; when larger than max_trials, a seeded sample of it
    (ParameterGrid indexes a point without enumerating the others, so a huge grid costs only its sample)."""
    grid = ParameterGrid({p.name: grid_values(p) for p in space})
    if len(grid) <= max_trials:
        return [_native_point(point) for point in grid]
    log.info("grid has %d points; trying a seeded sample of %d (raise maxTrials to try all)", len(grid), max_trials)
    picks = np.random.default_rng(seed).choice(len(grid), size=max_trials, replace=False)
    return [_native_point(grid[int(i)]) for i in sorted(picks)]


def random_plan(space: list[ParamSpace], max_trials: int, seed: int) -> list[dict[str, Any]]:
    """scikit-learn's ParameterSampler over each dimension's distribution: uniform or log-uniform (integers
    rounded), a uniform integer, or one of the listed values. When every dimension is a list, the points are
    distinct, so a space smaller than max_trials gives each point once."""
    distributions = {p.name: _distribution(p) for p in space}
    size = math.prod(len(p.values) for p in space if p.values is not None)
    count = max_trials
    if all(p.values is not None for p in space) and size < max_trials:
        log.info("the space has %d points; trying each once instead of %d trials", size, max_trials)
        count = size
    integers = {p.name for p in space if p.type == "int" and p.values is None}
    return [{name: int(round(value)) if name in integers else _native(value) for name, value in point.items()}
            for point in ParameterSampler(distributions, n_iter=count, random_state=seed)]


def _distribution(p: ParamSpace) -> Any:
    if p.values is not None:
        return list(p.values)
    low, high = float(p.low or 0), float(p.high or 0)  # bounds are checked by parse_spec (log needs low > 0)
    if p.log:
        return stats.loguniform(low, high)
    if p.type == "int":
        return stats.randint(int(low), int(high) + 1)
    return stats.uniform(low, high - low)


def _native_point(point: dict[str, Any]) -> dict[str, Any]:
    return {name: _native(value) for name, value in point.items()}


def optuna_distribution(p: ParamSpace) -> optuna.distributions.BaseDistribution:
    if p.values is not None:
        return optuna.distributions.CategoricalDistribution(p.values)
    if p.type == "int":
        return optuna.distributions.IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log,
                                                    step=int(p.step or 1) if not p.log else 1)
    return optuna.distributions.FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log,
                                                  step=None if p.log else p.step)


def tpe_study(seed: int, max_trials: int) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(5, min(10, max_trials // 4)),
                                         multivariate=True, constant_liar=True)
    return optuna.create_study(direction="maximize", sampler=sampler)


class MedianStopping:
    """Median early stopping by Optuna's MedianPruner: a trial whose running mean after fold k is below the median
    of the running means completed trials had after fold k is stopped (from `min_trials` completed trials on).
    The pruner is asked against a snapshot of the trials that finished before the current batch started, so
    parallel runs decide as sequential ones do."""

    def __init__(self, min_trials: int = 5) -> None:
        self.pruner = optuna.pruners.MedianPruner(n_startup_trials=min_trials, n_warmup_steps=0)
        self.completed: list[optuna.trial.FrozenTrial] = []

    def record(self, result: TrialResult) -> None:
        if result.state == "complete":
            running = np.cumsum(result.fold_scores) / np.arange(1, len(result.fold_scores) + 1)
            self.completed.append(optuna.trial.create_trial(
                value=result.score, intermediate_values={fold: float(v) for fold, v in enumerate(running)}))

    def frozen(self) -> ShouldStop:
        snapshot = optuna.create_study(direction="maximize")
        snapshot.add_trials(self.completed)
        pruner = self.pruner

        def should_stop(fold: int, running: float) -> bool:
            trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                              intermediate_values={fold: running})
            return pruner.prune(snapshot, trial)

        return should_stop


def median_stopping(spec: TuningSpec) -> MedianStopping | None:
    """The spec's early stopping: median stopping after `earlyStopping.minTrials` completed trials, or none."""
    return MedianStopping(spec.early_stopping_min_trials) if spec.early_stopping == "median" else None


TrialLogger = Callable[[TrialResult, int], None]


def log_trial(result: TrialResult, total: int) -> None:
    if result.state == "complete":
        log.info("trial %d/%d finished in %.2f s: score %.5f, %s %s", result.number + 1, total, result.seconds,
                 result.score, result.algorithm, result.params)
    elif result.state == "pruned":
        why = result.error or f"running score {result.score:.5f} below the median"
        log.info("trial %d/%d (%s) pruned after fold %d: %s", result.number + 1, total, result.algorithm,
                 len(result.fold_scores), why)
    else:
        log.info("trial %d/%d failed: %s", result.number + 1, total, result.error)


def run_batches(problem: Problem, spec: TuningSpec, on_trial: TrialLogger = log_trial) -> SearchOutcome:
    """Evaluate trials batch by batch (batch = parallelTrials); deterministic for a given seed."""
    stopping = median_stopping(spec)
    study = tpe_study(problem.seed, spec.max_trials) if spec.strategy == "bayesian" else None
    plan = (grid_plan if spec.strategy == "grid" else random_plan)(spec.search_space, spec.max_trials, problem.seed) \
        if study is None else None
    total = len(plan) if plan is not None else spec.max_trials
    trials: list[TrialResult] = []
    for start in range(0, total, spec.parallel_trials):
        size = min(spec.parallel_trials, total - start)
        asked, batch = _next_batch(study, plan, spec, start, size)
        stop = stopping.frozen() if stopping else None
        results = _evaluate(problem, spec, batch, start, stop)
        for number, result in enumerate(results):
            if study is not None:
                tell(study, asked[number], result)
            if stopping:
                stopping.record(result)
            on_trial(result, total)
            trials.append(result)
    return SearchOutcome(best_trial(trials, "tuning"), trials)


def _next_batch(study: optuna.Study | None, plan: list[dict[str, Any]] | None, spec: TuningSpec, start: int,
                size: int) -> tuple[list[Any], list[dict[str, Any]]]:
    if plan is not None or study is None:
        return [], (plan or [])[start:start + size]
    distributions = {p.name: optuna_distribution(p) for p in spec.search_space}
    asked = [study.ask(distributions) for _ in range(size)]
    return asked, [{k: _native(v) for k, v in t.params.items()} for t in asked]


def _evaluate(problem: Problem, spec: TuningSpec, batch: list[dict[str, Any]], start: int,
              stop: ShouldStop | None) -> list[TrialResult]:
    jobs = (delayed(cross_validate)(problem, start + i, spec.algorithm, {**spec.params, **params}, stop)
            for i, params in enumerate(batch))
    if len(batch) == 1:
        return [cross_validate(problem, start, spec.algorithm, {**spec.params, **batch[0]}, stop)]
    return list(Parallel(n_jobs=len(batch), backend="threading")(jobs))


def tell(study: optuna.Study, trial: optuna.Trial, result: TrialResult) -> None:
    if result.state == "complete":
        study.tell(trial, result.score)
    elif result.state == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def best_trial(trials: list[TrialResult], what: str) -> TrialResult:
    """The complete trial with the highest score (earliest on ties); raises TrainingError when none completed."""
    complete = [t for t in trials if t.state == "complete"]
    if not complete:
        errors = sorted({t.error for t in trials if t.error})[:3]
        raise TrainingError(f"every {what} trial failed ({len(trials)} trials): {'; '.join(errors)}",
                            "check the search space and the data; the errors above name the cause.")
    return max(complete, key=lambda t: (t.score, -t.number))


def iter_params(outcome: SearchOutcome) -> Iterator[dict[str, Any]]:
    return (t.params for t in outcome.trials)
