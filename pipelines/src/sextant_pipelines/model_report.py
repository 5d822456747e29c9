"""The model report: one self-contained HTML page beside the data-quality report that explains the model —
holdout metrics, confusion matrix or residuals, ROC and precision-recall curves, permutation importances and
the search's leaderboard."""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from sextant_pipelines import svgcharts
from sextant_pipelines.budget import RunClock

IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 3
MIN_IMPORTANCE_ROWS = 200
ROWS_CUT_AIM = 0.8  # of the allowance, when the rows are cut
IMPORTANCE_SHARE = 0.25  # of the time left (after the registration tail) the importances may take
SHOWN_FEATURES = 20


def importance_plan(predict_seconds: float, rows: int, features: int, allowance: float) -> tuple[int, int] | None:
    """The holdout rows and shuffles per feature that permutation importances can use within `allowance` seconds,
    given that one prediction of `rows` rows took `predict_seconds` (one prediction per feature and shuffle):
    all rows and IMPORTANCE_REPEATS shuffles, else one shuffle, else fewer rows (never under
    MIN_IMPORTANCE_ROWS, below which the ranking is mostly noise); None when even that does not fit."""
    per_shuffle = predict_seconds * features
    if per_shuffle * IMPORTANCE_REPEATS <= allowance:
        return rows, IMPORTANCE_REPEATS
    if per_shuffle <= allowance:
        return rows, 1
    # Aim below the allowance: a prediction's fixed cost makes fewer rows slower than in proportion.
    fewer = int(rows * ROWS_CUT_AIM * allowance / per_shuffle) if per_shuffle > 0 else rows
    return (fewer, 1) if fewer >= MIN_IMPORTANCE_ROWS else None


def importances(model: Any, X: pd.DataFrame, y: pd.Series, scoring: str | None, seed: int,
                clock: RunClock | None, reserved: float = 0.0) -> tuple[dict[str, float], str]:
    """Permutation importances on at most 2,000 holdout rows (scikit-learn's own) within a quarter of the time
    the budget leaves after `reserved` seconds (the refit on all rows that follows): fewer shuffles, then fewer
    rows when the model predicts slowly (`importance_plan`); else a note saying why there are none."""
    rows = X.iloc[:IMPORTANCE_ROWS]
    started = time.perf_counter()
    model.predict(rows)
    seconds = time.perf_counter() - started
    allowance = float("inf") if clock is None else \
        IMPORTANCE_SHARE * (clock.remaining() - clock.tail_seconds(evaluated=True) - reserved)
    plan = importance_plan(seconds, len(rows), X.shape[1], allowance)
    for _ in range(3):  # a smaller prediction is not always proportionally faster: measure it, cut again if not
        if plan is None or plan[0] == len(rows):
            break
        started = time.perf_counter()
        model.predict(rows.iloc[:plan[0]])
        seconds = time.perf_counter() - started
        if seconds * X.shape[1] <= allowance:
            break
        plan = importance_plan(seconds, plan[0], X.shape[1], allowance)
    else:
        plan = None
    if plan is None:
        return {}, (f"skipped: one shuffle of each of the {X.shape[1]} features on {MIN_IMPORTANCE_ROWS} rows would "
                    f"not fit in what automl.timeBudget leaves (about {max(allowance, 0.0):.1f} s); a longer budget "
                    "gives them")
    used, repeats = plan
    found = permutation_importance(model, rows.iloc[:used], y.iloc[:used], scoring=scoring, n_repeats=repeats,
                                   random_state=seed)
    means = dict(zip(map(str, X.columns), found.importances_mean.tolist(), strict=True))
    shuffles = f"{repeats} shuffles" if repeats > 1 else "1 shuffle (all the time budget left room for)"
    return dict(sorted(means.items(), key=lambda kv: -kv[1])[:SHOWN_FEATURES]), \
        f"mean drop of the score over {shuffles} of each feature, {used} holdout rows"


def _curves(model: Any, X: pd.DataFrame, y: pd.Series, positive: str | None) -> str:
    """ROC and precision-recall curves of a binary classifier's positive class (objective.positiveClass, else
    the last sorted label), with the decision threshold the model predicts from."""
    classes = list(getattr(model, "classes_", []))
    if len(classes) != 2 or not hasattr(model, "predict_proba") or y.nunique() != 2:
        return ""
    index = next((i for i, c in enumerate(classes) if str(c) == positive), 1)
    scores = model.predict_proba(X)[:, index]
    truth = np.asarray(y) == classes[index]
    fpr, tpr, _ = skm.roc_curve(truth, scores)
    precision, recall, _ = skm.precision_recall_curve(truth, scores)
    auc, ap = skm.roc_auc_score(truth, scores), skm.average_precision_score(truth, scores)
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    threshold = float(getattr(last, "threshold", 0.5))
    return (f"<h2>ROC and precision-recall (positive class {html.escape(str(classes[index]))}; predicted from a "
            f"probability of {threshold:.3f})</h2>"
            + svgcharts.curve("ROC", {f"AUC {auc:.3f}": (fpr, tpr)}, "false positive rate", "true positive rate",
                              diagonal=True)
            + svgcharts.curve("Precision-recall", {f"AP {ap:.3f}": (recall, precision)}, "recall", "precision"))


def _errors(task: str, model: Any, X: pd.DataFrame, y: pd.Series, extras: dict[str, Any]) -> str:
    if task == "classification" and "confusionMatrix" in extras:
        matrix = extras["confusionMatrix"]
        return "<h2>Confusion matrix (holdout)</h2>" + svgcharts.matrix("rows: true class", matrix["labels"],
                                                                       matrix["matrix"])
    if task == "regression":
        predicted = model.predict(X)
        return "<h2>Residuals (holdout)</h2>" + svgcharts.scatter(
            "residual against prediction", predicted.tolist(), (np.asarray(y) - predicted).tolist(), "predicted",
            "residual")
    return ""


def _leaderboard(board: list[dict[str, Any]]) -> str:
    if not board:
        return ""
    def seconds(row: dict[str, Any]) -> str:
        return "" if row["seconds"] is None else f"{row['seconds']:.2f}"

    rows = "".join(f"<tr><td>{r['rank']}</td><td>{html.escape(r['algorithm'])}</td><td>{r['score']:.5f}</td>"
                   f"<td>{seconds(r)}</td><td><code>{html.escape(str(r['params']))}</code></td></tr>" for r in board)
    return (f"<h2>Leaderboard ({html.escape(board[0]['metric'])}, cross-validated on the training rows)</h2>"
            f"<table><tr><th>rank</th><th>algorithm</th><th>score</th><th>seconds</th><th>params</th></tr>"
            f"{rows}</table>")


def render_model_report(title: str, task: str, model: Any, X: pd.DataFrame, y: pd.Series | None,
                        holdout: dict[str, float], extras: dict[str, Any], board: list[dict[str, Any]],
                        importance: tuple[dict[str, float], str]) -> str:
    """The page: metrics, errors, curves, importances and leaderboard (sections that do not apply are left out)."""
    metric_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" for k, v in sorted(holdout.items()))
    body = [f"<h2>Holdout metrics ({len(X)} rows the model did not see)</h2><table>{metric_rows}</table>"]
    if y is not None:
        curves = _curves(model, X, y, extras.get("positiveClass")) if task == "classification" else ""
        body += [_errors(task, model, X, y, extras), curves]
    values, note = importance
    if values:
        table = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>" for k, v in values.items())
        body.append("<h2>Permutation importance</h2>" + svgcharts.bars(
            "drop of the score when shuffled", list(values), list(values.values()), svgcharts.BLUE, width=640)
            + f"<table><tr><th>feature</th><th>importance</th></tr>{table}</table>")
    body.append(f"<p class='note'>Permutation importance: {html.escape(note)}</p>" if note else "")
    body.append(_leaderboard(board))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}td,th{{padding:2px 10px;text-align:left}}
tr:nth-child(even){{background:#f4f4f4}} .note{{color:#666}} img{{margin:4px}}</style></head>
<body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>
"""
