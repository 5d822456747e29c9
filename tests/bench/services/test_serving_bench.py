"""Serving benchmark: Sextant vs MLServer vs a bare BentoML service, side by side, same models, as ratios.

Models: logistic regression on iris, gradient boosting on breast_cancer (fitted on arrays so every server
gets the same joblib file and no feature-name checks). Each server runs alone while wrk (the standard load
generator) drives it at concurrency 1, 16 and 64 for SEXTANT_BENCH_SECONDS (default 15) per level. Only
successful responses count; a run with more than 0.1% errors does not count. Results go to
bench-results/services-serving.{json,md}.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from tests.support.processes import free_port, running
from tests.support.serving_models import register

from . import targets
from .wrk_runner import WrkResult, run_wrk

pytestmark = pytest.mark.bench
SECONDS = float(os.environ.get("SEXTANT_BENCH_SECONDS", "15"))
# Sextant's server workers; the bare BentoML service keeps 2 (its better setting here).
WORKERS = int(os.environ.get("SEXTANT_BENCH_WORKERS", "2"))
LEVELS = (1, 16, 64)
ROOT = targets.ROOT


def _models(tmp: Path) -> list[targets.BenchModel]:
    out = []
    for name, data, est in (("iris", load_iris(), LogisticRegression(max_iter=1000)),
                            ("cancer", load_breast_cancer(), GradientBoostingClassifier(random_state=0))):
        features = [f"f{i}" for i in range(data.data.shape[1])]
        est.fit(data.data, data.target)
        store = tmp / "store"
        register(store, name, est, pd.DataFrame(data.data, columns=features), "classification",
                 {"name": "y", "classes": sorted(set(data.target.tolist()))})
        path = tmp / f"{name}.joblib"
        joblib.dump(est, path)
        out.append(targets.BenchModel(name, features, data.data[0].tolist(), path, store.as_uri()))
    return out


def _levels(target: str, url: str, body: str, tmp: Path, levels: tuple[int, ...] = LEVELS) -> list[WrkResult]:
    return [run_wrk(target, url, body, c, SECONDS, tmp) for c in levels]


def _batch_rows_mean(url: str) -> float:
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()  # noqa: S310 - http only
    total = sum(float(v) for v in re.findall(r"^sextant_batch_rows_sum\{[^}]*\} (\S+)", text, re.M))
    count = sum(float(v) for v in re.findall(r"^sextant_batch_rows_count\{[^}]*\} (\S+)", text, re.M))
    return total / count if count else 0.0


def _in_process(m: targets.BenchModel, batch_sizes: list[int]) -> dict[str, float]:
    """model.predict rows/s at each batch size: the ceiling no server can beat."""
    model = joblib.load(m.joblib_path)
    out = {}
    for bs in batch_sizes:
        x = np.tile(np.asarray(m.row), (bs, 1))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0 and n < 100_000:
            model.predict(x)
            n += 1
        out[str(bs)] = bs * n / (time.perf_counter() - start)
    return out


def _router_overhead(m: targets.BenchModel, tmp: Path) -> list[dict[str, object]]:
    rows = []
    with targets.sextant(m, tmp) as server:
        port = free_port()
        spec = {"listen": f"127.0.0.1:{port}", "variants": [{"name": "bench", "url": server.url, "weight": 100}]}
        (tmp / "router.json").write_text(json.dumps(spec))
        cmd = [str(ROOT / ".venv/bin/python"), "-m", "sextant_services.router", "--spec", str(tmp / "router.json"),
               "--run-dir", str(tmp / "router")]
        with running(cmd, port, tmp / "router.log", ready_path="/readyz") as router:
            for c in (16, 64):
                direct = run_wrk("direct", server.url + "/predict", targets.sextant_body(m), c, SECONDS, tmp)
                routed = run_wrk("routed", router.url + "/predict", targets.sextant_body(m), c, SECONDS, tmp)
                rows.append({"concurrency": c, "direct": direct.as_dict(), "routed": routed.as_dict(),
                             "added_p50_ms": routed.p50_ms - direct.p50_ms,
                             "added_p99_ms": routed.p99_ms - direct.p99_ms,
                             "rps_ratio": routed.ok_rps / max(direct.ok_rps, 1e-9)})
    return rows


def _best(results: list[WrkResult], prefix: str, c: int) -> WrkResult | None:
    runs = [r for r in results if r.target.startswith(prefix) and r.concurrency == c and r.counts]
    return max(runs, key=lambda r: r.ok_rps, default=None)


def _markdown(report: dict[str, object]) -> str:
    lines = ["| model | target | c | ok req/s | p50 ms | p99 ms | errors | counts |",
             "|---|---|---|---|---|---|---|---|"]
    for name, data in report["models"].items():  # type: ignore[union-attr]
        for r in data["runs"]:
            lines.append(f"| {name} | {r['target']} | {r['concurrency']} | {r['ok_rps']:.0f} | {r['p50_ms']:.1f} | "
                         f"{r['p99_ms']:.1f} | {r['errors']} | {'yes' if r['counts'] else 'NO'} |")
    lines += ["", "| model | ratio at c=64 | value |", "|---|---|---|"]
    for name, data in report["models"].items():  # type: ignore[union-attr]
        for k, v in data["ratios_c64"].items():
            lines.append(f"| {name} | {k} | {v if isinstance(v, str) else f'{v:.2f}'} |")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(3600)  # bounded below: 2 models x 4 targets x 3 levels x 15 s, plus start-ups
def test_serving_benchmark(tmp_path: Path) -> None:
    report: dict[str, object] = {"seconds_per_level": SECONDS, "levels": LEVELS, "cpus": os.cpu_count(),
                                 "sextant_workers": WORKERS,
                                 "models": {}}
    for m in _models(tmp_path):
        runs: list[WrkResult] = []
        with targets.sextant(m, tmp_path, workers=WORKERS) as s:
            runs += _levels("sextant", s.url + "/predict", targets.sextant_body(m), tmp_path)
            batch_mean = _batch_rows_mean(s.url)
            runs += _levels("sextant-v2", s.url + f"/v2/models/{m.name}/infer", targets.v2_body(m), tmp_path, (64,))
        with targets.mlserver(m, tmp_path) as s:
            runs += _levels("mlserver", s.url + f"/v2/models/{m.name}/infer", targets.v2_body(m), tmp_path)
        for batching in (True, False):
            with targets.bare_bentoml(m, tmp_path, batching) as s:
                name = "bentoml-bare-batching" if batching else "bentoml-bare-plain"
                runs += _levels(name, s.url + "/predict", targets.bare_body(m), tmp_path)
        ours, mls, bare = _best(runs, "sextant", 64), _best(runs, "mlserver", 64), _best(runs, "bentoml-bare", 64)
        ratios: dict[str, object] = {}
        if ours and mls:
            ratios["sextant/mlserver req/s (goal >= 1.5)"] = ours.ok_rps / mls.ok_rps
            ratios["sextant/mlserver p99 (goal <= 1.0)"] = ours.p99_ms / mls.p99_ms
        if ours and bare:
            ratios["sextant/best bare BentoML req/s (goal >= 1.0)"] = ours.ok_rps / bare.ok_rps
        if not bare:
            ratios["bare BentoML"] = "no bare run had <= 0.1% errors at c=64"
        report["models"][m.name] = {  # type: ignore[index]
            "runs": [r.as_dict() for r in runs], "ratios_c64": ratios,
            "sextant_mean_batch_rows": batch_mean,
            "in_process_rows_per_s": _in_process(m, sorted({1, 16, 64, max(1, round(batch_mean))})),
        }
    report["router_overhead_iris"] = _router_overhead(_models(tmp_path / "router")[0], tmp_path)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "services-serving.json").write_text(json.dumps(report, indent=2))
    (out / "services-serving.md").write_text(_markdown(report))
    print(_markdown(report))
    print(json.dumps({k: v for k, v in report.items() if k != "models"}, indent=2))
    for data in report["models"].values():  # type: ignore[union-attr]
        assert any(r["target"] == "sextant" and r["counts"] for r in data["runs"]), "Sextant had >0.1% errors"
