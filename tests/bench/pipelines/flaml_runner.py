"""Runs FLAML inside its own virtualenv for the AutoML benchmark: same rows, same budget, same holdout metric.

Usage: python flaml_runner.py <request.json>; prints one JSON line {"score": ..., "estimator": ..., "seconds": ...}.
"""

import json
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.metrics import accuracy_score, r2_score


def main() -> None:
    request = json.loads(open(sys.argv[1]).read())
    if "train_csv" in request:  # the user-path benchmark: the very files Sextant trains on and is scored on
        import pandas as pd

        dates = request.get("dates") or False  # parsed as a FLAML user would; FLAML then derives date features
        train_frame = pd.read_csv(request["train_csv"], parse_dates=dates)
        test_frame = pd.read_csv(request["test_csv"], parse_dates=dates)
        target = request["target"]
        X = pd.concat([train_frame, test_frame], ignore_index=True)
        y = X.pop(target)
        train, test = np.arange(len(train_frame)), np.arange(len(train_frame), len(X))
    else:
        X, y = getattr(datasets, f"load_{request['dataset']}")(return_X_y=True, as_frame=True)
        train, test = np.asarray(request["train"]), np.asarray(request["test"])
    from flaml import AutoML

    automl = AutoML()
    started = time.perf_counter()
    automl.fit(X.iloc[train], y.iloc[train], task=request["task"], time_budget=request["budget"],
               metric="accuracy" if request["task"] == "classification" else "r2", n_jobs=request["n_jobs"],
               seed=request["seed"], verbose=0, eval_method="cv", n_splits=request["folds"])
    seconds = time.perf_counter() - started
    predicted = automl.predict(X.iloc[test])
    score = (accuracy_score(y.iloc[test], predicted) if request["task"] == "classification"
             else r2_score(y.iloc[test], predicted))
    print(json.dumps({"score": float(score), "estimator": automl.best_estimator, "seconds": seconds}))


if __name__ == "__main__":
    main()
