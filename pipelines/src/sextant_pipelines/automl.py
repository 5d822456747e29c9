"""AutoML: search across algorithms and their spaces within a time budget, then try voting/stacking ensembles."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.ensemble import StackingClassifier, StackingRegressor, VotingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

from sextant_pipelines import metrics
from sextant_pipelines.budget import RunClock, SearchBudget, refit_seconds
from sextant_pipelines.catalogue import CATALOGUE, algorithm_for, build_estimator
from sextant_pipelines.crossval import Problem, TrialResult, cross_validate
from sextant_pipelines.errors import SpecError, TrainingError
from sextant_pipelines.spaces import DEFAULT_AUTOML, SPACES
from sextant_pipelines.spec import AutomlSpec, ParamSpace
from sextant_pipelines.tune import SearchOutcome, TrialLogger, best_trial, log_trial

log = logging.getLogger("sextant.pipelines.automl")
ENSEMBLE_SIZE = 5
SELECTION_ROUNDS = 25  # ensemble selection's rounds: weights in 25ths, as AutoGluon's default of 25
ENSEMBLE_KINDS = ("voting", "stacking")  # what ensemble: auto tries, each kept only if it beats the best so far


@dataclass
class AutomlOutcome(SearchOutcome):
    choice: str = "single"
    members: list[TrialResult] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)  # a voting ensemble's weight per member (equal when empty)
    ensemble_scores: dict[str, float] = field(default_factory=dict)
    stopped_because: str = ""
    seconds: float = 0.0
    oof: np.ndarray | None = None  # the chosen model's out-of-fold outputs (its decision threshold is tuned on them)

    def algorithm(self) -> str:
        return self.best.algorithm if self.choice == "single" else f"{self.choice}_ensemble"

    def params(self) -> dict[str, Any]:
        if self.choice == "single":
            return self.best.params
        weights = self.weights or [1] * len(self.members)
        return {"members": [{"algorithm": m.algorithm, "params": m.params, "weight": w}
                            for m, w in zip(self.members, weights, strict=True)]}


def candidate_algorithms(task: str, spec: AutomlSpec, rows: int = 0) -> list[str]:
    """The algorithms to search, cheapest first on `rows` rows; raises SpecError for names outside the
    catalogue."""
    names = spec.algorithms or DEFAULT_AUTOML[task]
    for i, name in enumerate(names):
        algorithm_for(task, name, f"automl.algorithms[{i}]")
        if name not in SPACES[task]:
            raise SpecError(f"automl.algorithms[{i}]", f"{name!r} has no AutoML search space.", "remove it.")
    return sorted(dict.fromkeys(names), key=lambda n: CATALOGUE[task][n].cost_at(rows))


def _suggest(trial: optuna.Trial, algorithm: str, space: list[ParamSpace]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in space:
        key = f"{algorithm}.{p.name}"
        if p.values is not None:
            value = trial.suggest_categorical(key, p.values)
        elif p.type == "int":
            value = trial.suggest_int(key, int(p.low or 0), int(p.high or 0), log=p.log)
        else:
            value = trial.suggest_float(key, float(p.low or 0), float(p.high or 0), log=p.log)
        params[p.name] = value.item() if isinstance(value, np.generic) else value
    return params


def search(problem: Problem, spec: AutomlSpec, on_trial: TrialLogger = log_trial, clock: RunClock | None = None,
           refits: int = 1) -> AutomlOutcome:
    """Defaults of every algorithm first (cheapest first), then TPE over (algorithm, params) until an exit
    criterion holds. `clock`: the run's deadline (default: the budget from now); `refits`: how many final fits
    follow the search (their cost, and the tail of the run, are kept out of the search's time)."""
    rows = len(problem.X) * (problem.folds - 1) // max(problem.folds, 1)  # a fold's training rows
    names = candidate_algorithms(problem.task, spec, rows)
    weights = {name: CATALOGUE[problem.task][name].cost_at(rows) for name in names}
    budget = SearchBudget(clock or RunClock(spec.time_budget_s), problem.folds, refits, weights)
    search_started = budget.clock.now()
    cap = spec.max_trials or 10_000
    trials: list[TrialResult] = []
    supervised = problem.task in ("classification", "regression")
    for name in names:
        # Until one trial completes, the budget stops nothing: a run always ends with a model.
        first = not any(t.state == "complete" for t in trials)
        if len(trials) >= cap or (budget.expired() and not first):
            break
        if first or budget.affords(name):
            result = _trial(problem, budget, len(trials), name, {}, supervised, gated=not first)
            _record(budget, trials, result, on_trial, spec, supervised)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=problem.seed, n_startup_trials=len(names) + 4, multivariate=True,
                                             group=True, constant_liar=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for t in trials:
        study.enqueue_trial({"algorithm": t.algorithm})
    for t in trials:
        replay = study.ask()
        replay.suggest_categorical("algorithm", names)
        _tell(study, replay, t)
    reason = _exit_reason(problem, spec, trials, budget, cap)
    while not reason:
        asked, batch = _ask_affordable(study, names, problem.task, budget, trials,
                                       min(spec.parallel_trials, cap - len(trials)))
        if not batch:
            reason = "time budget (no algorithm's next trial fits in the time left)"
            break
        results = _run_batch(problem, budget, batch, len(trials), supervised)
        for trial, result in zip(asked, results, strict=True):
            _tell(study, trial, result)
            _record(budget, trials, result, on_trial, spec, supervised)
        reason = _exit_reason(problem, spec, trials, budget, cap)
    seconds = budget.clock.now() - search_started
    log.info("automl search stopped (%s) after %d trials in %.1f s (%.1f s of the run's budget left)", reason,
             len(trials), seconds, budget.clock.remaining())
    best = best_trial(trials, "automl")
    outcome = AutomlOutcome(best, trials, stopped_because=reason, seconds=seconds, oof=best.oof)
    kinds = ENSEMBLE_KINDS if spec.ensemble == "auto" else () if spec.ensemble == "none" else (spec.ensemble,)
    if supervised:
        for kind in kinds:
            choose_ensemble(problem, kind, outcome, budget)
    return outcome


def _trial(problem: Problem, budget: SearchBudget, number: int, name: str, params: dict[str, Any],
           keep_oof: bool, gated: bool = True) -> TrialResult:
    return cross_validate(problem, number, name, params, None, keep_oof, budget.fold_fits if gated else None,
                          budget.fold_estimate(name))


def _record(budget: SearchBudget, trials: list[TrialResult], result: TrialResult, on_trial: TrialLogger,
            spec: AutomlSpec, supervised: bool) -> None:
    """Learn the trial's cost and reserve the time the final refit will take: of the best model, or with an
    ensemble asked for, of the voting ensemble of the best model per algorithm (so the ensemble the search
    earns can still be fitted; stacking, (folds + 1) times costlier, is tried only when time is left)."""
    budget.learn(result.algorithm, result.seconds / max(len(result.fold_scores), 1) * budget.folds,
                 bool(result.fold_scores))
    on_trial(result, spec.max_trials or 0)
    trials.append(result)
    complete = [t for t in trials if t.state == "complete"]
    if not complete:
        return
    best = max(complete, key=_rank)
    _release_outputs(trials, best)
    single = refit_seconds(best.seconds, budget.folds, budget.refits)
    voting = refit_seconds(sum(m.seconds for m in top_members(trials)), budget.folds, 1) \
        if spec.ensemble != "none" and supervised else 0.0
    # The ensemble's refit on the training rows is reserved; its refit on all rows runs only if time is left.
    budget.reserve(max(single, voting))


def _release_outputs(trials: list[TrialResult], best: TrialResult) -> None:
    """Keep out-of-fold outputs only where they can still be used: the best trial (its decision threshold) and
    the ensemble's candidates. Another trial's can never be chosen again (a new trial brings its own), and on
    17 M rows each trial's are 272 MB."""
    keep = {id(t) for t in top_members(trials)} | {id(best)}
    for trial in trials:
        if id(trial) not in keep:
            trial.oof = None


def _rank(trial: TrialResult) -> tuple[float, int]:
    return trial.score, -trial.number



Candidates = list[tuple[str, dict[str, Any]]]


def _ask_affordable(study: optuna.Study, names: list[str], task: str, budget: SearchBudget,
                    trials: list[TrialResult], size: int) -> tuple[list[optuna.Trial], Candidates]:
    """Ask TPE for `size` candidates; one whose algorithm no longer fits the time left is given up (told as
    failed) and replaced by the best-scoring algorithm that still fits, so a costly algorithm does not end the
    search while cheaper ones would run. Empty when no algorithm fits."""
    asked, batch = [], []
    for _ in range(size):
        trial = study.ask()
        name = str(trial.suggest_categorical("algorithm", names))
        if not budget.affords(name, size):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            substitute = _best_affordable(names, budget, trials, size)
            if substitute is None:
                break
            study.enqueue_trial({"algorithm": substitute})
            trial = study.ask()
            name = str(trial.suggest_categorical("algorithm", names))
        asked.append(trial)
        batch.append((name, _suggest(trial, name, SPACES[task][name])))
    return asked, batch


def _best_affordable(names: list[str], budget: SearchBudget, trials: list[TrialResult], size: int) -> str | None:
    scores = {n: max((t.score for t in trials if t.algorithm == n and t.state == "complete"), default=float("-inf"))
              for n in names if budget.affords(n, size)}
    return max(scores, key=lambda n: scores[n]) if scores else None


def _run_batch(problem: Problem, budget: SearchBudget, batch: list[tuple[str, dict[str, Any]]], start: int,
               keep_oof: bool) -> list[TrialResult]:
    if len(batch) == 1:
        return [_trial(problem, budget, start, batch[0][0], batch[0][1], keep_oof)]
    jobs = (delayed(_trial)(problem, budget, start + i, name, params, keep_oof)
            for i, (name, params) in enumerate(batch))
    return list(Parallel(n_jobs=len(batch), backend="threading")(jobs))


def _tell(study: optuna.Study, trial: optuna.Trial, result: TrialResult) -> None:
    if result.state == "complete":
        study.tell(trial, result.score)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _exit_reason(problem: Problem, spec: AutomlSpec, trials: list[TrialResult], budget: SearchBudget,
                 cap: int) -> str:
    if len(trials) >= cap:
        return f"maxTrials {cap} reached"
    if budget.expired():
        return "time budget"
    complete = [t for t in trials if t.state == "complete"]
    if spec.target_score is not None and complete:
        maximize = metrics.metric_for(problem.task, problem.metric, "objective.metric").maximize
        best = max(t.score for t in complete) * (1 if maximize else -1)
        if (best >= spec.target_score) if maximize else (best <= spec.target_score):
            return f"targetScore {spec.target_score} reached ({best:.5f})"
    if spec.patience and complete:
        best_at = max(complete, key=lambda t: (t.score, -t.number)).number
        if len(trials) - 1 - best_at >= spec.patience:
            return f"no improvement in {spec.patience} trials"
    return ""


def top_members(trials: list[TrialResult]) -> list[TrialResult]:
    """An ensemble's candidates: the best complete trial of each algorithm, best first, at most ENSEMBLE_SIZE."""
    best_per_algorithm: dict[str, TrialResult] = {}
    for t in sorted((t for t in trials if t.state == "complete" and t.oof is not None), key=lambda t: -t.score):
        best_per_algorithm.setdefault(t.algorithm, t)
    return list(best_per_algorithm.values())[:ENSEMBLE_SIZE]


def oof_score(problem: Problem, outputs: np.ndarray, classes: list[Any] | None = None) -> float:
    """The objective's score of out-of-fold `outputs` (predictions, or class probabilities) on the problem's rows;
    `classes`: the labels of the probabilities' columns when the rows may lack one (the sorted labels present)."""
    if problem.y is None:
        raise TrainingError("ensembles need labelled rows.", "set dataset.target or automl.ensemble: none.")
    if problem.task == "regression":
        return metrics.signed("regression", problem.metric,
                              metrics.regression_scores(problem.y, outputs, only=problem.metric))
    classes = classes or sorted(problem.y.unique().tolist())
    predicted = np.asarray(classes)[outputs.argmax(axis=1)]
    values = metrics.classification_scores(problem.y, predicted, outputs, classes, problem.positive,
                                           only=problem.metric)
    return metrics.signed("classification", problem.metric, values)


def _labels(problem: Problem) -> list[Any] | None:
    """A classification's sorted labels (the columns of its probabilities), which a subset of rows may lack."""
    return sorted(problem.y.unique().tolist()) if problem.task == "classification" and problem.y is not None \
        else None


def _subset(problem: Problem, rows: np.ndarray) -> Problem:
    return replace(problem, X=problem.X.iloc[rows], y=None if problem.y is None else problem.y.iloc[rows])


def fold_scores(problem: Problem, outputs: np.ndarray) -> list[float] | None:
    """The objective on each CV fold's rows of out-of-fold `outputs` (None when a fold cannot be scored on its
    own, e.g. roc_auc on a fold with one class)."""
    classes, scores = _labels(problem), []
    for _, rows in problem.splits():
        try:
            scores.append(oof_score(_subset(problem, rows), outputs[rows], classes))
        except ValueError:
            return None
    return scores


def cv_score(problem: Problem, outputs: np.ndarray) -> float:
    """An ensemble's score in the same terms as a trial's: the mean of its per-fold scores. R2 or AUC scored once
    on all rows differs from that mean, on few rows by more than the gains at stake, so comparing the two chose
    ensembles that lost on new rows (docs/pipelines.md, "Are the defaults the best configuration?")."""
    scores = fold_scores(problem, outputs)
    return float(np.mean(scores)) if scores else oof_score(problem, outputs)


def selection_weights(problem: Problem, stacked: list[np.ndarray], rounds: int = SELECTION_ROUNDS,
                      classes: list[Any] | None = None) -> list[int]:
    """Ensemble selection (Caruana et al., 2004): each round adds, with replacement, the member whose addition to
    the blend scores best out of fold; the weights are the times each was added by the best round (the earliest of
    equal ones, so the smaller blend). A member that only adds noise is never added, so it costs no refit."""
    counts, total = [0] * len(stacked), np.zeros_like(stacked[0], dtype=float)
    best_score, best_counts = -np.inf, counts
    for size in range(1, rounds + 1):
        scores = [oof_score(problem, (total + outputs) / size, classes) for outputs in stacked]
        pick = int(np.argmax(scores))  # the first of equal scores: the better member alone
        counts, total = [c + (i == pick) for i, c in enumerate(counts)], total + stacked[pick]
        if scores[pick] > best_score:
            best_score, best_counts = scores[pick], counts
    return best_counts


def selected_blend_outputs(problem: Problem, stacked: list[np.ndarray]) -> np.ndarray:
    """The selected blend's own out-of-fold outputs: each CV fold's rows blended with the weights selection chose
    on the other folds' rows. Weights chosen and scored on the same rows would flatter the blend (most on few rows)
    and win against the single model and stacking, whose scores are out of fold, when they should not."""
    classes, blended = _labels(problem), np.zeros_like(stacked[0], dtype=float)
    for fitted_on, held_out in problem.splits():
        weights = selection_weights(_subset(problem, fitted_on), [s[fitted_on] for s in stacked], classes=classes)
        blended[held_out] = np.average([s[held_out] for s in stacked], axis=0, weights=weights)
    return blended


def ensemble_refit_seconds(kind: str, members: list[TrialResult], folds: int, refits: int) -> float:
    """Estimated cost of the final fits: one fit per member for voting, folds + 1 per member for stacking."""
    per_fit = refit_seconds(sum(m.seconds for m in members), folds, refits)
    return per_fit * (folds + 1 if kind == "stacking" else 1)


def choose_ensemble(problem: Problem, kind: str, outcome: AutomlOutcome, budget: SearchBudget) -> None:
    """Score the ensemble from out-of-fold predictions (no refits), as a trial is scored, and keep it only if it
    beats the best so far and its final fits still finish within the run's deadline (less the tail). A voting
    ensemble's members and weights are chosen by ensemble selection first, so only the members it keeps are
    refitted."""
    members = top_members(outcome.trials)
    stacked = [m.oof for m in members if m.oof is not None]
    if len(stacked) < 2 or len(stacked) != len(members) or len({s.ndim for s in stacked}) != 1:
        return
    members, weights = ensemble_members(problem, kind, members, stacked)
    if len(members) < 2:  # no blend scored better than the best member alone: that is the ensemble's score
        outcome.ensemble_scores[kind] = members[0].score
        log.info("%s ensemble: selection kept %s alone", kind, members[0].algorithm)
        return
    refit = ensemble_refit_seconds(kind, members, problem.folds, 1)  # the refit on all rows is gated later
    if budget.clock.now() + refit > budget.clock.deadline - budget.clock.tail_seconds():
        log.info("%s ensemble skipped: its final fit would not finish within the time budget", kind)
        return
    outputs = ensemble_outputs(problem, kind, stacked)
    score = cv_score(problem, outputs)
    current = outcome.best.score if outcome.choice == "single" else outcome.ensemble_scores[outcome.choice]
    outcome.ensemble_scores[kind] = score
    log.info("%s ensemble of %s scores %.5f per fold, out of fold (best so far %.5f)", kind,
             [f"{m.algorithm}x{w}" for m, w in zip(members, weights, strict=True)], score, current)
    if score > current:
        outcome.choice, outcome.members, outcome.oof = kind, members, outputs
        outcome.weights = weights if kind == "voting" else []


def ensemble_members(problem: Problem, kind: str, members: list[TrialResult],
                     stacked: list[np.ndarray]) -> tuple[list[TrialResult], list[int]]:
    """The candidates an ensemble of `kind` keeps and their weights: those ensemble selection adds to a voting
    blend (`stacked`: their out-of-fold outputs), every one with weight 1 for stacking."""
    weights = selection_weights(problem, stacked) if kind == "voting" else [1] * len(members)
    return [m for m, w in zip(members, weights, strict=True) if w], [w for w in weights if w]


def ensemble_outputs(problem: Problem, kind: str, stacked: list[np.ndarray]) -> np.ndarray:
    """The ensemble's out-of-fold outputs from its candidates': the selected blend's (voting, weights chosen on the
    other folds), or the meta-learner's own out-of-fold predictions on them (stacking), so neither is scored on
    rows it learned from."""
    if kind == "voting":
        return selected_blend_outputs(problem, stacked)
    features = np.hstack([s.reshape(len(s), -1) for s in stacked])
    meta, cv = _meta_learner(problem)
    method = "predict_proba" if problem.task == "classification" else "predict"
    return np.asarray(cross_val_predict(meta, features, problem.y, cv=cv, method=method))


def _meta_learner(problem: Problem) -> tuple[BaseEstimator, Any]:
    if problem.task == "classification":
        splitter = StratifiedKFold(problem.folds, shuffle=True, random_state=problem.seed)
        return LogisticRegression(max_iter=2000), splitter
    return RidgeCV(), KFold(problem.folds, shuffle=True, random_state=problem.seed)


def final_estimator(problem: Problem, outcome: AutomlOutcome) -> BaseEstimator:
    """The estimator to refit on all training rows: the best single candidate or the chosen ensemble."""
    if outcome.choice == "single":
        return build_estimator(problem.task, outcome.best.algorithm, outcome.best.params, problem.seed)
    named = [(f"{m.algorithm}", build_estimator(problem.task, m.algorithm, m.params, problem.seed))
             for m in outcome.members]
    meta, cv = _meta_learner(problem)
    weights = outcome.weights or None
    if problem.task == "classification":
        if outcome.choice == "voting":
            return VotingClassifier(named, voting="soft", weights=weights)
        return StackingClassifier(named, final_estimator=meta, cv=cv)
    if outcome.choice == "voting":
        return VotingRegressor(named, weights=weights)
    return StackingRegressor(named, final_estimator=meta, cv=cv)
