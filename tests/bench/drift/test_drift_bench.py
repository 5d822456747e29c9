"""The drift engine's quality and speed for docs/drift.md (issue 12, point 2): power, false alarms, time at 1M rows.

Quality: per repetition a fresh standard-normal training set (SEXTANT_DRIFT_TRAIN_ROWS, 20,000) of 100 features
gives the baseline exactly as profile.py writes it; two live samples of 1,000 rows are counted by the server's
binner (drift_bins.py), one with feature f000's mean moved by 0.25 sigma, one unshifted. Detection = f000 is among
the drifted features; false alarm = the unshifted sample's dataset verdict is "drifted". Goals: >= 95% and <= 5%
over >= 200 repetitions (SEXTANT_DRIFT_REPS). Speed: 1M rows x 100 features counted by the server's binner in
batches of 50,000 rows (generating the data is not timed), then the check itself. Results go to
bench-results/drift.{json,md}. Evidently side by side on the same data: test_drift_vs_evidently.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import binomtest

from sextant_services.drift import DriftPolicy, drift_report, live_counts
from tests.bench.pipelines.common import env_int, write_results
from tests.support.drift_data import labelled, normal_trial, numeric_setup

FEATURES = 100
LIVE_ROWS = 1_000
SHIFT = 0.25
POLICIES = {"benjamini-hochberg": DriftPolicy(), "holm": DriftPolicy(correction="holm")}


@dataclass
class Tally:
    detected: int = 0
    false_alarms: int = 0
    other_features_flagged: int = 0


def rate(hits: int, trials: int) -> dict[str, float]:
    """The observed rate and its exact 95% (Clopper-Pearson) interval."""
    ci = binomtest(hits, trials).proportion_ci(confidence_level=0.95)
    return {"rate": hits / trials, "low": float(ci.low), "high": float(ci.high), "hits": hits, "trials": trials}


def run_quality(repetitions: int, train_rows: int) -> dict[str, Tally]:
    rng = np.random.default_rng(20261202)
    tallies = {name: Tally() for name in POLICIES}
    for _ in range(repetitions):
        baseline, [shifted, unshifted] = normal_trial(rng, FEATURES, train_rows, LIVE_ROWS, (SHIFT, 0.0))
        for name, policy in POLICIES.items():
            found = drift_report(baseline, shifted, policy).drifted_features
            tallies[name].detected += "f000" in found
            tallies[name].other_features_flagged += len(set(found) - {"f000"})
            tallies[name].false_alarms += drift_report(baseline, unshifted, policy).verdict == "drifted"
    return tallies


def table_row(name: str, tally: Tally, repetitions: int) -> str:
    d, f = rate(tally.detected, repetitions), rate(tally.false_alarms, repetitions)
    return (f"| {name} | {d['rate']:.1%} ({d['low']:.1%}-{d['high']:.1%}) | "
            f"{f['rate']:.1%} ({f['low']:.1%}-{f['high']:.1%}) | {tally.other_features_flagged} |")


@pytest.mark.bench
def test_drift_quality_and_speed() -> None:
    repetitions, train_rows = env_int("SEXTANT_DRIFT_REPS", 200), env_int("SEXTANT_DRIFT_TRAIN_ROWS", 20_000)
    started = time.process_time()
    tallies = run_quality(repetitions, train_rows)
    quality_cpu = time.process_time() - started
    speed = measure_speed(rows=env_int("SEXTANT_DRIFT_SPEED_ROWS", 1_000_000))
    quality = {name: {"detection": rate(t.detected, repetitions), "false_alarm": rate(t.false_alarms, repetitions),
                      "other_features_flagged": t.other_features_flagged} for name, t in tallies.items()}
    doc = {"repetitions": repetitions, "train_rows": train_rows, "live_rows": LIVE_ROWS, "features": FEATURES,
           "shift_sigma": SHIFT, "quality_cpu_seconds": quality_cpu, "speed": speed, "quality": quality}
    table = ["| policy | detection (95% CI) | false alarms (95% CI) | other features flagged |",
             "| --- | --- | --- | --- |"]
    table += [table_row(name, t, repetitions) for name, t in tallies.items()]
    table += ["", f"{repetitions} repetitions, quality CPU {quality_cpu:.0f} s", "",
              f"{speed['rows']:,} rows x {FEATURES} features: histogramming {speed['histogram_seconds']:.2f} s, "
              f"check {speed['check_seconds'] * 1000:.0f} ms, total {speed['total_seconds']:.2f} s"]
    write_results("drift", doc, table)


def measure_speed(rows: int, batch: int = 50_000) -> dict[str, float]:
    """Seconds to count `rows` x 100 features on the baseline's bins, and to run the check on the counts."""
    rng = np.random.default_rng(1)
    setup = numeric_setup(rng.standard_normal((FEATURES, 20_000)))
    slots = np.zeros(setup.binner.size, dtype=np.int64)
    histogram_seconds = 0.0
    for start in range(0, rows, batch):
        x = rng.standard_normal((FEATURES, min(batch, rows - start)))
        began = time.perf_counter()
        slots += setup.binner.count(x)
        histogram_seconds += time.perf_counter() - began
    began = time.perf_counter()
    report = drift_report(setup.baseline, live_counts(setup.baseline, labelled(setup.binner, slots)))
    check_seconds = time.perf_counter() - began
    assert report.samples == rows
    return {"rows": rows, "histogram_seconds": histogram_seconds, "check_seconds": check_seconds,
            "total_seconds": histogram_seconds + check_seconds}
