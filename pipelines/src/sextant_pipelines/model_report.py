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
IMPORTANCE_SHARE = 0.25  # of the time left (after the registration tail) the importances may take
SHOWN_FEATURES = 20


def importances(model: Any, X: pd.DataFrame, y: pd.Series, scoring: str | None, seed: int,
                clock: RunClock | None) -> tuple[dict[str, float], str]:
    """Permutation importances on at most 2,000 holdout rows (scikit-learn's own), when their expected time
    (one prediction per feature and repeat) fits in a quarter of the time the budget leaves; else a note."""
    rows = X.iloc[:IMPORTANCE_ROWS]
    started = time.perf_counter()
    model.predict(rows)
    expected = (time.perf_counter() - started) * X.shape[1] * IMPORTANCE_REPEATS
    if clock is not None and expected > IMPORTANCE_SHARE * (clock.remaining() - clock.tail_seconds(evaluated=True)):
        return {}, f"skipped: about {expected:.1f} s would not fit in what automl.timeBudget leaves"
    found = permutation_importance(model, rows, y.iloc[:IMPORTANCE_ROWS], scoring=scoring,
                                   n_repeats=IMPORTANCE_REPEATS, random_state=seed)
    means = dict(zip(map(str, X.columns), found.importances_mean.tolist(), strict=True))
    return dict(sorted(means.items(), key=lambda kv: -kv[1])[:SHOWN_FEATURES]), \
        f"mean drop of the score over {IMPORTANCE_REPEATS} shuffles of each feature, {len(rows)} holdout rows"


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
