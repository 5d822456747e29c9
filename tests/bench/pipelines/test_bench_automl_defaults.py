"""Benchmark (issue 13, point 1): are the defaults the best configuration? AutoML with only `automl.timeBudget`
against the same TrainingJob with one field changed, through the same user path as the FLAML benchmark
(test_bench_automl_user_path.py: same datasets, splits and scoring), side by side on cores 0 and 1.

SEXTANT_BENCH_ALTERNATIVE: the automl fields of the other configuration, as JSON (default {"ensemble": "none"}:
the best single model, no voting or stacking). Ratio = defaults / alternative of the mean over splits; the
defaults are the better choice when the ratio is >= 1 on most datasets and the mean ratio is >= 1.
Also SEXTANT_BENCH_BUDGETS (default "30"), SEXTANT_BENCH_REPEATS and SEXTANT_BENCH_DATASETS as there, and
SEXTANT_BENCH_FIRST_SEED (default 2000: the splits are seeds 2000 on) to add splits to an earlier run.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.bench.pipelines.common import env_int, write_results
from tests.bench.pipelines.test_bench_automl import FLAML_PYTHON
from tests.bench.pipelines.test_bench_automl_user_path import datasets, sextant_run, split_files

ALTERNATIVE: dict[str, Any] = json.loads(os.environ.get("SEXTANT_BENCH_ALTERNATIVE", '{"ensemble": "none"}'))
BUDGETS = [float(b) for b in os.environ.get("SEXTANT_BENCH_BUDGETS", "30").split(",")]


def _in(directory: Path, train: Path, test: Path) -> tuple[Path, Path]:
    """Copies of the split's files in a directory of their own (each run writes its store beside them)."""
    directory.mkdir()
    return Path(shutil.copy(train, directory / train.name)), Path(shutil.copy(test, directory / test.name))


@pytest.mark.bench
@pytest.mark.timeout(6 * 3600)
@pytest.mark.parametrize("budget", BUDGETS, ids=lambda b: f"{b:.0f}s")
def test_the_defaults_against_one_field_changed(budget: float, tmp_path: Path) -> None:
    if not FLAML_PYTHON.exists():  # its venv exports the datasets
        pytest.skip(f"bench venv missing at {FLAML_PYTHON}: run bash tests/bench/pipelines/setup.sh")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("the two configurations run side by side on cores 0 and 1")
    repeats = env_int("SEXTANT_BENCH_REPEATS", 3)
    first = env_int("SEXTANT_BENCH_FIRST_SEED", 2000)
    runs: list[dict[str, Any]] = []
    label = ", ".join(f"{k}: {v}" for k, v in ALTERNATIVE.items())
    for name, meta in datasets().items():
        for seed in range(first, first + repeats):
            train, test = split_files(name, meta, seed, tmp_path)
            a_train, a_test = _in(tmp_path / f"{name}-{seed}-defaults", train, test)
            b_train, b_test = _in(tmp_path / f"{name}-{seed}-alternative", train, test)
            with ThreadPoolExecutor(max_workers=2) as pool:
                defaults = pool.submit(sextant_run, name, meta, a_train, a_test, budget)
                other = pool.submit(sextant_run, name, meta, b_train, b_test, budget, ALTERNATIVE,
                                    ["taskset", "-c", "1"])
                runs.append({"dataset": name, "task": meta["task"], "seed": seed,
                             "defaults": defaults.result(), "alternative": other.result()})
            print(f"{budget:>5.0f}s {name:<16} seed {seed}: defaults {runs[-1]['defaults']['score']:.4f} "
                  f"({runs[-1]['defaults']['estimator']}) {label} {runs[-1]['alternative']['score']:.4f} "
                  f"({runs[-1]['alternative']['estimator']})", flush=True)
    lines = [f"| budget | dataset | defaults | {label} | ratio |", "|---:|---|---:|---:|---:|"]
    ratios: dict[str, float] = {}
    for name in dict.fromkeys(r["dataset"] for r in runs):
        rows = [r for r in runs if r["dataset"] == name]
        ours_mean, theirs_mean = (float(np.mean([r[k]["score"] for r in rows])) for k in ("defaults", "alternative"))
        ratios[name] = ours_mean / theirs_mean if theirs_mean > 0 else float("nan")
        lines.append(f"| {budget:.0f} s | {name} | {ours_mean:.4f} | {theirs_mean:.4f} | {ratios[name]:.4f} |")
    lines.append(f"\n{budget:.0f} s: defaults >= {label} on {sum(r >= 1.0 for r in ratios.values())} of "
                 f"{len(ratios)} datasets, mean ratio {np.mean(list(ratios.values())):.4f}, {repeats} splits each")
    slug = "-".join(f"{k}-{v}" for k, v in ALTERNATIVE.items())
    write_results(f"pipelines-automl-defaults-vs-{slug}-{budget:.0f}s", {"alternative": ALTERNATIVE, "runs": runs,
                                                                         "ratios": ratios}, lines)
    assert all(r["defaults"]["seconds"] <= budget + max(3.0, 0.1 * budget) for r in runs)
