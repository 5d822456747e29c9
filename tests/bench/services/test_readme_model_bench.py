"""Serving benchmark on the model a user serves: the README's iris TrainingJob, trained by `sextant-train`.

The model is a scikit-learn Pipeline (ColumnTransformer: median imputation and standard scaling, then logistic
regression) fed from records, registered in a local `file://` artifact store exactly as the README's command does.
Side by side in one run, each server alone on the machine with one worker, wrk at concurrency 1, 16 and 64 for
SEXTANT_BENCH_SECONDS (default 15) per level:

* `sextant-readme`: our server with its defaults, `/predict` with the documented `{"records": [...]}` body;
* `mlserver-readme`: MLServer 1.7.1 + mlserver-sklearn serving the same fitted pipeline file (the artifact's
  `saved_model.pkl`), its V2 inference protocol with the same row, one input per column and the `pd` content type
  (a ColumnTransformer selects columns by name, so MLServer must build a DataFrame);
* `sextant-bare`: our server serving a bare LogisticRegression fitted on the iris arrays (no preprocessing), the
  same body: what the README's model costs over a bare estimator in the same server.

Before the load, both servers get the same 150 iris rows plus edge rows and must return the same predictions.
Goals at c=64: Sextant >= 3x MLServer's successful requests/s with p99 <= half of MLServer's; the README model
>= 0.8x the bare estimator's rate. Only successful responses count; a run with more than 0.1% errors does not
count. Results, with the machine's load averages before and after: bench-results/services-readme-model.{json,md}.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support.serving_models import register

from . import targets
from .wrk_runner import WrkResult, run_wrk

pytestmark = pytest.mark.bench
SECONDS = float(os.environ.get("SEXTANT_BENCH_SECONDS", "15"))
LEVELS = (1, 16, 64)
ROOT = targets.ROOT

README_JOB = """\
apiVersion: ml.sextant.io/v1alpha1
kind: TrainingJob
metadata: {name: iris}
spec:
  task: classification
  dataset: {uri: "builtin:iris", target: target}
  estimator: {algorithm: logistic_regression}
  acceptance: [{metric: accuracy, min: 0.9}]
  model: {name: iris, promote: production}
"""
# The README's curl: one iris row as a record.
README_ROW = [5.1, 3.5, 1.4, 0.2]


def _train_readme_model(tmp: Path) -> targets.BenchModel:
    """Run the README's `sextant-train` command; the registered artifact is what a user serves."""
    (tmp / "iris.yaml").write_text(README_JOB)
    store = tmp / "artifacts"
    subprocess.run([str(ROOT / ".venv/bin/sextant-train"), "run", "--spec", str(tmp / "iris.yaml"),
                    "--store", store.as_uri()], check=True, timeout=600, capture_output=True)
    manifest = json.loads((store / "models/iris/1/manifest.json").read_text())
    features = [f["name"] for f in manifest["featureSchema"]]
    pickle = store / "models/iris/1/model/saved_model.pkl"
    return targets.BenchModel("iris", features, README_ROW, pickle, store.as_uri())


def _register_bare(tmp: Path, features: list[str]) -> targets.BenchModel:
    """A bare estimator with the same features, fitted on arrays (the server gives it a float matrix)."""
    data = load_iris()
    est = LogisticRegression(max_iter=2000).fit(data.data, data.target)
    store = tmp / "bare-store"
    register(store, "iris", est, pd.DataFrame(data.data, columns=features), "classification",
             {"name": "target", "classes": [0, 1, 2]})
    return targets.BenchModel("iris", features, README_ROW, tmp / "unused.joblib", store.as_uri())


def _check_rows() -> list[list[float]]:
    rows = load_iris().data.tolist()
    return [*rows, [0.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 10.0], [4.3, 2.0, 6.9, 0.1], [7.9, 4.4, 1.0, 2.5]]


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),  # noqa: S310 - http://127.0.0.1 only
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - http://127.0.0.1 only
        return json.loads(r.read())


def _sextant_predictions(url: str, features: list[str], rows: list[list[float]]) -> list[Any]:
    records = [dict(zip(features, r, strict=True)) for r in rows]
    return list(_post(url + "/predict", {"records": records})["predictions"])


def _mlserver_predictions(url: str, name: str, features: list[str], rows: list[list[float]]) -> list[Any]:
    out = _post(url + f"/v2/models/{name}/infer", json.loads(targets.v2_pandas_body(features, rows)))
    return list(out["outputs"][0]["data"])


def _levels(target: str, url: str, body: str, tmp: Path) -> list[WrkResult]:
    return [run_wrk(target, url, body, c, SECONDS, tmp) for c in LEVELS]


def _at(runs: list[WrkResult], target: str, c: int) -> WrkResult | None:
    return next((r for r in runs if r.target == target and r.concurrency == c and r.counts), None)


def _ratios(runs: list[WrkResult]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for c in LEVELS:
        ours, mls, bare = (_at(runs, t, c) for t in ("sextant-readme", "mlserver-readme", "sextant-bare"))
        out[str(c)] = {
            "sextant/mlserver req/s": ours.ok_rps / mls.ok_rps if ours and mls else None,
            "sextant/mlserver p99": ours.p99_ms / mls.p99_ms if ours and mls else None,
            "readme/bare req/s": ours.ok_rps / bare.ok_rps if ours and bare else None,
        }
    return out


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"load averages before {report['load_before']}, after {report['load_after']}; "
             f"{report['seconds_per_level']:g} s per level, {report['cpus']} CPUs", "",
             "| target | c | ok req/s | p50 ms | p99 ms | errors | counts |", "|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['target']} | {r['concurrency']} | {r['ok_rps']:.0f} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['errors']} | {'yes' if r['counts'] else 'NO'} |")
    lines += ["", "| c | Sextant / MLServer req/s [>= 3 at 64] | Sextant / MLServer p99 [<= 0.5 at 64] | "
              "README model / bare estimator req/s [>= 0.8] |", "|---|---|---|---|"]
    for c, r in report["ratios"].items():
        cells = [f"{v:.2f}" if v is not None else "n/a" for v in r.values()]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(1800)  # bounded: 3 targets x 3 levels x SECONDS, training and start-ups
def test_readme_model_against_mlserver_and_a_bare_estimator() -> None:
    # Not pytest's tmp_path: other sessions' pytest runs on this machine prune /tmp/pytest-of-* under a live run.
    tmp_path = ROOT / "bench-results" / "readme-model-work"
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir(parents=True)
    readme = _train_readme_model(tmp_path)
    bare = _register_bare(tmp_path, readme.features)
    check = _check_rows()
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: list[WrkResult] = []
    body = targets.sextant_body(readme)
    with targets.sextant(readme, tmp_path, workers=1) as s:
        ours = _sextant_predictions(s.url, readme.features, check)
        assert "column plan" in s.log(), "the README model should be served through its column plan"
        runs += _levels("sextant-readme", s.url + "/predict", body, tmp_path)
    with targets.mlserver(readme, tmp_path) as s:
        theirs = _mlserver_predictions(s.url, readme.name, readme.features, check)
        runs += _levels("mlserver-readme", s.url + f"/v2/models/{readme.name}/infer",
                        targets.v2_pandas_body(readme.features, [readme.row]), tmp_path)
    (tmp_path / "bare").mkdir()
    with targets.sextant(bare, tmp_path / "bare", workers=1) as s:
        runs += _levels("sextant-bare", s.url + "/predict", body, tmp_path)
    load_after = [round(x, 2) for x in os.getloadavg()]
    assert ours == theirs, "Sextant and MLServer disagree on the same rows"
    assert np.array_equal(ours, np.asarray(_pipeline_predictions(readme, check))), "not the pipeline's predictions"
    report = {"seconds_per_level": SECONDS, "levels": LEVELS, "cpus": os.cpu_count(), "workers": 1,
              "load_before": load_before, "load_after": load_after, "checked_rows": len(check),
              "runs": [r.as_dict() for r in runs], "ratios": _ratios(runs)}
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "services-readme-model.json").write_text(json.dumps(report, indent=2))
    (out / "services-readme-model.md").write_text(_markdown(report))
    print(_markdown(report))
    assert _at(runs, "sextant-readme", 64) is not None, "Sextant had >0.1% errors at c=64"


def _pipeline_predictions(m: targets.BenchModel, rows: list[list[float]]) -> list[Any]:
    import joblib

    pipe = joblib.load(m.joblib_path)
    return pipe.predict(pd.DataFrame(rows, columns=m.features)).tolist()  # type: ignore[no-any-return]
