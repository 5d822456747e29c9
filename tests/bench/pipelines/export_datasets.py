"""Writes the AutoML benchmark's real tabular datasets as CSV files, from packages on PyPI that ship them.

Runs inside the benchmark's own virtualenv (setup.sh installs statsmodels and vega_datasets there, next to
FLAML), so neither enters uv.lock. Usage: python export_datasets.py <directory>; writes <name>.csv per dataset
and index.json ({name: {task, target, rows, source, dates}}; `dates` names the date columns, which FLAML's runner
parses as a FLAML user would with read_csv's parse_dates, while Sextant finds them itself). Nothing is downloaded:
every file is inside a wheel.
"""

import json
import sys
from pathlib import Path


def _statsmodels() -> dict:
    from statsmodels import datasets as sm

    fair = sm.fair.load_pandas().data
    fair_cls = fair.assign(had_affair=(fair.pop("affairs") > 0).map({True: "yes", False: "no"}))
    anes = sm.anes96.load_pandas().data.drop(columns=["vote"]).assign(
        vote=sm.anes96.load_pandas().data["vote"].map({0.0: "clinton", 1.0: "dole"}))
    randhie = sm.randhie.load_pandas().data
    return {
        "fair_affairs": (fair_cls, "classification", "had_affair", "statsmodels.datasets.fair"),
        "anes96_vote": (anes, "classification", "vote", "statsmodels.datasets.anes96"),
        "randhie_visits": (randhie, "regression", "mdvis", "statsmodels.datasets.randhie"),
        "grunfeld_invest": (sm.grunfeld.load_pandas().data, "regression", "invest", "statsmodels.datasets.grunfeld"),
    }


def _vega() -> dict:
    from vega_datasets import local_data

    cars = local_data.cars().drop(columns=["Name"]).dropna(subset=["Miles_per_Gallon"])
    cars["Year"] = cars["Year"].astype("int64") // 10**9 // (365 * 86400) + 1970
    weather = local_data.seattle_weather()  # `date` stays a date, as a user's file has it (ISO in the CSV)
    return {
        "cars_mpg": (cars, "regression", "Miles_per_Gallon", "vega_datasets cars"),
        "seattle_weather": (weather, "classification", "weather", "vega_datasets seattle_weather"),
    }


def _sklearn() -> dict:
    from sklearn import datasets

    out = {}
    for name, task in (("breast_cancer", "classification"), ("wine", "classification"),
                       ("digits", "classification"), ("diabetes", "regression")):
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        out[name] = (frame, task, "target", f"scikit-learn load_{name}")
    return out


def main() -> None:
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, (frame, task, target, source) in {**_statsmodels(), **_vega(), **_sklearn()}.items():
        frame = frame.dropna(subset=[target]).reset_index(drop=True)
        frame.to_csv(directory / f"{name}.csv", index=False)
        dates = [c for c in frame.columns if str(frame[c].dtype).startswith("datetime64")]
        index[name] = {"task": task, "target": target, "rows": len(frame), "source": source, "dates": dates}
    (directory / "index.json").write_text(json.dumps(index, indent=2))
    print(json.dumps(index))


if __name__ == "__main__":
    main()
