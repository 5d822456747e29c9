"""A search's leaderboard reaches TrainingJob status: the top five rows of the trainer's result, known keys only."""

from __future__ import annotations

from sextant_operator.reconcile.trainingjob import model_fields


def test_the_top_five_candidates_are_copied_with_their_algorithm_params_score_and_time() -> None:
    rows = [{"rank": i + 1, "algorithm": "knn", "params": {"n_neighbors": i + 1}, "score": 0.9 - i / 100,
             "seconds": 0.5, "trial": i, "metric": "accuracy"} for i in range(8)]
    rows[1].update(algorithm="stacking_ensemble", params={}, seconds=None, trial=None)
    fields = model_fields({"best": {"algorithm": "knn"}, "metrics": {"accuracy": 0.9}, "leaderboard": rows})
    board = fields["leaderboard"]
    assert [r["rank"] for r in board] == [1, 2, 3, 4, 5]
    assert board[0] == {"rank": 1, "algorithm": "knn", "params": {"n_neighbors": 1}, "score": 0.9, "seconds": 0.5}
    assert board[1] == {"rank": 2, "algorithm": "stacking_ensemble", "params": {}, "score": 0.89}
    assert "leaderboard" not in model_fields({"best": {"algorithm": "knn"}, "metrics": {}})


def test_the_positive_class_and_tuned_threshold_reach_best() -> None:
    result = {"best": {"algorithm": "logistic_regression"}, "objective": "f1", "metrics": {"f1": 0.8},
              "positiveClass": "cancer", "search": {"decisionThreshold": {"positiveClass": "cancer",
                                                                          "threshold": 0.27}}}
    best = model_fields(result)["best"]
    assert best["positiveClass"] == "cancer" and best["decisionThreshold"] == 0.27 and best["value"] == 0.8
    plain = model_fields({"best": {"algorithm": "knn"}, "metrics": {"accuracy": 0.9}})["best"]
    assert "positiveClass" not in plain and "decisionThreshold" not in plain
