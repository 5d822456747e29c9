"""Benchmark (issue 13, point 1): does choosing an ensemble by its out-of-fold score (what `ensemble: auto` does)
pay on rows the search never saw, or would a stricter gate, one kind of ensemble, or none, do better?

The time-budgeted benchmarks (test_bench_automl_defaults.py) mix two things: the ensemble's choice and the search
time it reserves. Here the search is the same for every rule: a fixed number of trials (`trials_for`, about
what 30 s gives) and no time limit, so the trials are identical and only the choice differs. Per dataset and
split (the user-path benchmark's datasets and 75/25 splits): the best single model, the voting ensemble (members
and weights by ensemble selection, as the search does), the equal-weight voting and the stacking ensemble of the
best trial per algorithm, each refitted on the training rows and scored on the test rows (accuracy or R2, as
there), and each one's out-of-fold score per CV fold. Then each rule picks:

- the default: voting, then stacking, each kept if its cross-validated score (the mean of its per-fold scores
  from out-of-fold outputs, as a trial is scored) is higher than the choice so far's;
- `one standard error`: the same, and the mean per-fold gain must exceed one standard error of the per-fold gains
  (the rule CART and glmnet use to prefer the simpler model);
- `pooled against per-fold`: what the search did before 74cbc39: an ensemble's R2/AUC/accuracy scored once
  on all rows against the best trial's mean per-fold score;
- `ensemble: voting` and `ensemble: stacking`: the configurations a user can set instead, each trying its one
  ensemble and keeping it if its score is higher;
- `ensemble: none`: always the best single model;
- `equal-weight voting`: the default with every member of the voting ensemble weighing the same (before 0b450c9).

Ratio = a rule's mean test score / the best single model's. SEXTANT_BENCH_DATA, SEXTANT_BENCH_DATASETS and
SEXTANT_BENCH_REPEATS as in the user-path benchmark. Results: bench-results/pipelines-automl-ensemble-choice.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from sextant_pipelines import automl, steps
from sextant_pipelines.crossval import Problem
from sextant_pipelines.preprocess import build_model
from sextant_pipelines.spec import parse_spec
from tests.bench.pipelines.common import env_int, write_results
from tests.bench.pipelines.test_bench_automl import FLAML_PYTHON
from tests.bench.pipelines.test_bench_automl_user_path import datasets, score, split_files

# voting: weighted by ensemble selection (what the search does since 2026-12-06); equal_voting: every member's
# weight 1 (what it did before), kept to compare the two on the same trials.
KINDS = ("single", "voting", "equal_voting", "stacking")
Record = dict[str, Any]


def trials_for(rows: int) -> int:
    """About the trials a 30 s run gets on one core (7-75 in the user-path benchmark, fewer on more rows)."""
    return 40 if rows < 1000 else 20 if rows < 5000 else 12


def _candidates(name: str, meta: dict[str, Any], train: Path, test: Path) -> Record:
    spec = parse_spec({"task": meta["task"], "model": {"name": "bench"},
                       "dataset": {"uri": train.as_uri(), "target": meta["target"]},
                       "automl": {"timeBudget": "24h", "ensemble": "none",
                                  "exitCriteria": {"maxTrials": trials_for(meta["rows"])}}})
    prepared = steps.prepare(spec)
    assert spec.automl is not None
    problem = steps.problem_for(spec, prepared, spec.automl.cv_folds, {})
    with threadpool_limits(1):
        outcome = automl.search(problem, spec.automl, lambda *_: None)
    members = automl.top_members(outcome.trials)
    rows = pd.read_csv(test)
    truth = rows.pop(meta["target"])
    record: Record = {"dataset": name, "rows": meta["rows"], "trials": len(outcome.trials), "choices": {}}
    for kind in KINDS:
        if kind != "single" and len(members) < 2:
            continue
        chosen = _ensemble(problem, outcome, kind, members)
        if chosen is None:  # selection kept the best member alone: the same model as "single"
            record["choices"][kind] = record["choices"]["single"]
            continue
        model = build_model(prepared.profile.schema, spec.preprocessing, automl.final_estimator(problem, chosen),
                            spec.task, len(prepared.train_X))
        with threadpool_limits(1):
            model.fit(prepared.train_X, prepared.train_y)
        assert chosen.oof is not None
        cv = automl.cv_score(problem, chosen.oof)
        record["choices"][kind] = {"cv": cv, "folds": automl.fold_scores(problem, chosen.oof),
                                   # what the search compared before 74cbc39: an ensemble's score on all
                                   # rows at once against the best trial's per-fold mean
                                   "compared_as": cv if kind == "single" else automl.oof_score(problem, chosen.oof),
                                   "test": score(meta["task"], truth, model.predict(rows)),
                                   "members": [m.algorithm for m in chosen.members], "weights": chosen.weights}
    return record


def _ensemble(problem: Problem, outcome: automl.AutomlOutcome, kind: str,
              members: list[Any]) -> automl.AutomlOutcome | None:
    """The model `kind` stands for, with its out-of-fold outputs; None when ensemble selection keeps one member."""
    if kind == "single":
        return automl.AutomlOutcome(outcome.best, outcome.trials, oof=outcome.best.oof)
    stacked = [m.oof for m in members]
    if kind == "equal_voting":
        return automl.AutomlOutcome(outcome.best, outcome.trials, choice="voting", members=members,
                                    oof=np.mean(stacked, axis=0))
    kept, weights = automl.ensemble_members(problem, kind, members, stacked)
    if len(kept) < 2:
        return None
    return automl.AutomlOutcome(outcome.best, outcome.trials, choice=kind, members=kept,
                                weights=weights if kind == "voting" else [],
                                oof=automl.ensemble_outputs(problem, kind, stacked))


def by_cv_score(challenger: Record, incumbent: Record) -> bool:
    return bool(challenger["cv"] > incumbent["cv"])


def one_standard_error(challenger: Record, incumbent: Record) -> bool:
    if not by_cv_score(challenger, incumbent):
        return False
    if challenger["folds"] is None or incumbent["folds"] is None:  # a fold could not be scored alone
        return True
    gains = [c - i for c, i in zip(challenger["folds"], incumbent["folds"], strict=True)]
    return bool(statistics.mean(gains) > statistics.stdev(gains) / math.sqrt(len(gains)))


def pooled_against_per_fold(challenger: Record, incumbent: Record) -> bool:
    return bool(challenger["compared_as"] > incumbent["compared_as"])


Keep = Callable[[Record, Record], bool]
TRIED_BY_AUTO = ("voting", "stacking")

# Each rule: the ensembles it tries, in order, and when one replaces the choice so far. `ensemble: voting` and
# `stacking` are the configurations a user can set instead of the default.
RULES: dict[str, tuple[tuple[str, ...], Keep]] = {
    "default": (TRIED_BY_AUTO, by_cv_score),
    "one standard error": (TRIED_BY_AUTO, one_standard_error),
    "pooled against per-fold": (TRIED_BY_AUTO, pooled_against_per_fold),
    "ensemble: voting": (("voting",), by_cv_score),
    "ensemble: stacking": (("stacking",), by_cv_score),
    "ensemble: none": ((), by_cv_score),
    "equal-weight voting": (("equal_voting", "stacking"), by_cv_score)}


def choose(record: Record, kinds: tuple[str, ...], keep: Keep) -> str:
    """What a search ends with when it tries `kinds` in order, each against the choice so far, under `keep`."""
    current = "single"
    for kind in kinds:
        if kind in record["choices"] and keep(record["choices"][kind], record["choices"][current]):
            current = kind
    return current


def summarise(records: list[Record], repeats: int) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per rule and dataset, the chosen model's mean test score / the best single model's, and the table of them
    (a function of the records alone, so a stored run can be summarised again)."""
    names = list(dict.fromkeys(r["dataset"] for r in records))
    lines = ["| dataset | rows | " + " | ".join(RULES) + " |", "|---|---:|" + "---:|" * len(RULES)]
    ratios: dict[str, dict[str, float]] = {rule: {} for rule in RULES}
    for name in names:
        rows = [r for r in records if r["dataset"] == name]
        single = statistics.mean(r["choices"]["single"]["test"] for r in rows)
        for rule, (kinds, keep) in RULES.items():
            chosen = statistics.mean(r["choices"][choose(r, kinds, keep)]["test"] for r in rows)
            ratios[rule][name] = chosen / single if single > 0 else float("nan")
        lines.append(f"| {name} | {rows[0]['rows']} | " + " | ".join(f"{ratios[r][name]:.4f}" for r in RULES) + " |")
    lines.append("")
    for rule in RULES:
        values = list(ratios[rule].values())
        lines.append(f"{rule}: mean ratio to the best single model {statistics.mean(values):.4f}, >= 1 on "
                     f"{sum(v >= 1 for v in values)} of {len(values)}, lowest {min(values):.4f}")
    lines.append(f"\n{repeats} splits each; test score of the chosen model / the best single model's")
    return ratios, lines


@pytest.mark.bench
@pytest.mark.timeout(6 * 3600)
def test_choosing_an_ensemble_by_out_of_fold_score_against_stricter_rules(tmp_path: Path) -> None:
    if not FLAML_PYTHON.exists():  # its venv exports the datasets
        pytest.skip(f"bench venv missing at {FLAML_PYTHON}: run bash tests/bench/pipelines/setup.sh")
    repeats = env_int("SEXTANT_BENCH_REPEATS", 3)
    records: list[Record] = []
    for name, meta in datasets().items():
        for seed in range(2000, 2000 + repeats):
            directory = tmp_path / f"{name}-{seed}"
            directory.mkdir()
            records.append(_candidates(name, meta, *split_files(name, meta, seed, directory)))
            tests = {k: round(v["test"], 4) for k, v in records[-1]["choices"].items()}
            print(f"{name:<22} seed {seed}: {records[-1]['trials']} trials, test {tests}", flush=True)
    ratios, lines = summarise(records, repeats)
    names = list(ratios["ensemble: none"])
    write_results("pipelines-automl-ensemble-choice", {"records": records, "ratios": ratios}, lines)
    assert len(names) == len(datasets()) and all(r["choices"]["single"]["folds"] for r in records)
