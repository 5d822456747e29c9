"""Writes an example model report (the HTML page sextant-train stores beside the model) for the docs' screenshot.

A tuning run on the breast-cancer data with an F1 objective for the malignant class (label 0), so the page shows
every section: holdout metrics, confusion matrix, ROC and precision-recall curves with the tuned threshold,
permutation importances and the leaderboard. Usage: python scripts/model_report_example.py OUT.html, then
`chromium --headless --no-sandbox --window-size=1200,2600 --screenshot=docs/img/model-report.png OUT.html`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sextant_pipelines.flow import RunContext, run_training


def main(out: Path) -> None:
    spec = {"task": "classification", "dataset": {"uri": "builtin:breast_cancer", "target": "target"},
            "model": {"name": "cancer"}, "objective": {"metric": "f1", "positiveClass": "0"},
            "tuning": {"algorithm": "random_forest", "maxTrials": 6, "cvFolds": 3,
                       "searchSpace": {"n_estimators": {"type": "int", "min": 20, "max": 200},
                                       "max_depth": {"type": "int", "min": 2, "max": 12}}}}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        result = run_training(spec, RunContext(store.as_uri(), training_job={"namespace": "ml", "name": "cancer"}))
        shutil.copy(store / result["artifacts"]["modelReport"].removeprefix(store.as_uri() + "/"), out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
