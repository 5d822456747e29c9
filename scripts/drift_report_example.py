"""Writes an example drift report (the HTML page the operator stores) for the docs' screenshot.

The baseline is what sextant-train's profile step records for the breast-cancer data; the live counts are 1,000
of its rows, with `mean radius` moved by half a standard deviation, counted on the baseline's bins the way the
model servers count them. Usage: python scripts/drift_report_example.py OUT.html
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

from sextant_pipelines.profile import profile
from sextant_services.drift_bins import numeric_bin_labels
from sextant_services.drift_check import check_drift

SHIFTED, SIGMAS, LIVE_ROWS = "mean radius", 0.5, 1000


def main(out: Path) -> None:
    features = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    baseline = profile(features, None, "classification").baseline
    live_rows = features.sample(LIVE_ROWS, replace=True, random_state=1)
    live_rows[SHIFTED] += SIGMAS * live_rows[SHIFTED].std()
    live = {name: numeric_bin_labels(live_rows[name].to_numpy(), np.asarray(stats["bins"]))
            for name, stats in baseline["features"].items()}
    report = check_drift({"baseline": baseline}, {"live": live, "html": True},
                         "Drift of breast-cancer version 1 (stable)")
    out.write_text(report["html"])
    print(f"{report['verdict']}: {report['driftedFeatures']} -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
