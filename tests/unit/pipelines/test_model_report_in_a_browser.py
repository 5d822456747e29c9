"""The model report a person opens: a tuning run on real data, its HTML report from the store rendered by headless
Chromium, every section present and its charts drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import image

from sextant_pipelines.flow import RunContext, run_training
from tests.support.headless_browser import rendered_dom, screenshot
from tests.unit.pipelines.helpers import spec

SECTIONS = ("Holdout metrics", "Confusion matrix (holdout)", "ROC and precision-recall", "Permutation importance",
            "Leaderboard")
CHART_BLUE = (0x4C / 255, 0x72 / 255, 0xB0 / 255)  # svgcharts.BLUE: bars and curves


def test_the_model_report_renders_every_section_with_its_charts(store_dir: Path, tmp_path: Path) -> None:
    result = run_training(spec("classification", "builtin:breast_cancer", "cancer",
                               tuning={"algorithm": "random_forest", "maxTrials": 3, "cvFolds": 3,
                                       "searchSpace": {"n_estimators": {"type": "int", "min": 20, "max": 50}}},
                               objective={"metric": "f1", "positiveClass": "0"}),
                          RunContext(store_dir.as_uri(), training_job={"namespace": "ml", "name": "t"}))
    key = result["artifacts"]["modelReport"].removeprefix(store_dir.as_uri() + "/")
    page = store_dir / key
    dom = rendered_dom(page)
    for section in SECTIONS:
        assert f"<h2>{section}" in dom, section
    assert "positive class 0; predicted from a probability of" in dom
    assert dom.count('src="data:image/svg+xml;base64,') >= 4  # confusion matrix, ROC, precision-recall, importances
    shot = image.imread(screenshot(page, tmp_path / "report.png"))
    assert shot.shape[:2] == (2600, 1200)
    ink = np.any(shot[:, :, :3] < 0.9, axis=2).mean()
    blue = np.all(np.abs(shot[:, :, :3] - CHART_BLUE) < 0.05, axis=2).sum()
    assert ink > 0.02 and blue > 2000, (ink, blue)  # text and drawn charts, not a blank or unstyled page
