"""Default search spaces per algorithm, used by AutoML (and as examples for tuning specs)."""

from __future__ import annotations

from sextant_pipelines.spec import ParamSpace as P

_TREES = [P("n_estimators", "int", 50, 400, log=True), P("max_features", "float", 0.2, 1.0),
          P("min_samples_leaf", "int", 1, 8, log=True)]
_HGB = [P("learning_rate", "float", 0.01, 0.3, log=True), P("max_leaf_nodes", "int", 8, 64, log=True),
        P("min_samples_leaf", "int", 2, 40, log=True), P("l2_regularization", "float", 1e-6, 10.0, log=True),
        P("max_iter", "int", 50, 400, log=True)]
_KNN = [P("n_neighbors", "int", 1, 40, log=True), P("weights", "categorical", values=["uniform", "distance"])]
# Up to a few hundred rounds: a trial's folds are still gated by the time left (budget.SearchBudget), and the
# learning rate trades rounds for step size.
_LGBM = [P("n_estimators", "int", 50, 600, log=True), P("learning_rate", "float", 0.01, 0.3, log=True),
         P("num_leaves", "int", 8, 128, log=True), P("min_child_samples", "int", 5, 100, log=True),
         P("colsample_bytree", "float", 0.4, 1.0), P("reg_lambda", "float", 1e-3, 10.0, log=True)]
_XGB = [P("n_estimators", "int", 50, 500, log=True), P("learning_rate", "float", 0.01, 0.3, log=True),
        P("max_depth", "int", 2, 10), P("min_child_weight", "float", 0.5, 20.0, log=True),
        P("subsample", "float", 0.6, 1.0), P("colsample_bytree", "float", 0.4, 1.0),
        P("reg_lambda", "float", 1e-3, 10.0, log=True)]
# Class imbalance: weighting classes inversely to their frequency is searched where the estimator takes it.
_BALANCED = [P("class_weight", "categorical", values=[None, "balanced"])]

SPACES: dict[str, dict[str, list[P]]] = {
    "classification": {
        "logistic_regression": [P("C", "float", 1e-3, 100.0, log=True), *_BALANCED],
        "random_forest": _TREES + _BALANCED, "extra_trees": _TREES + _BALANCED,
        "hist_gradient_boosting": _HGB + _BALANCED, "lightgbm": _LGBM + _BALANCED, "xgboost": _XGB,
        "gradient_boosting": [P("learning_rate", "float", 0.01, 0.3, log=True), P("max_depth", "int", 2, 6),
                              P("n_estimators", "int", 50, 300, log=True), P("subsample", "float", 0.6, 1.0)],
        "svm": [P("C", "float", 0.01, 1000.0, log=True), P("gamma", "float", 1e-4, 1.0, log=True), *_BALANCED],
        "knn": _KNN, "decision_tree": [P("max_depth", "int", 2, 20), P("min_samples_leaf", "int", 1, 20, log=True)],
        "naive_bayes": [P("var_smoothing", "float", 1e-12, 1e-3, log=True)],
        "sgd": [P("alpha", "float", 1e-6, 1e-1, log=True)],
    },
    "regression": {
        "linear_regression": [], "ridge": [P("alpha", "float", 1e-3, 1000.0, log=True)],
        "lasso": [P("alpha", "float", 1e-4, 10.0, log=True)],
        "elastic_net": [P("alpha", "float", 1e-4, 10.0, log=True), P("l1_ratio", "float", 0.05, 0.95)],
        "random_forest": _TREES, "extra_trees": _TREES, "hist_gradient_boosting": _HGB,
        "lightgbm": _LGBM, "xgboost": _XGB,
        "gradient_boosting": [P("learning_rate", "float", 0.01, 0.3, log=True), P("max_depth", "int", 2, 6),
                              P("n_estimators", "int", 50, 300, log=True), P("subsample", "float", 0.6, 1.0)],
        "svr": [P("C", "float", 0.01, 1000.0, log=True), P("epsilon", "float", 1e-3, 1.0, log=True)],
        "knn": _KNN, "decision_tree": [P("max_depth", "int", 2, 20), P("min_samples_leaf", "int", 1, 20, log=True)],
    },
    "clustering": {
        "kmeans": [P("n_clusters", "int", 2, 10)], "minibatch_kmeans": [P("n_clusters", "int", 2, 10)],
        "gaussian_mixture": [P("n_components", "int", 2, 10),
                             P("covariance_type", "categorical", values=["full", "diag", "spherical"])],
        "birch": [P("n_clusters", "int", 2, 10), P("threshold", "float", 0.1, 2.0)],
    },
    "anomalyDetection": {
        "isolation_forest": [P("n_estimators", "int", 50, 400, log=True), P("max_features", "float", 0.3, 1.0)],
        "local_outlier_factor": [P("n_neighbors", "int", 5, 60, log=True)],
        "one_class_svm": [P("gamma", "float", 1e-4, 1.0, log=True)],
        "elliptic_envelope": [P("support_fraction", "float", 0.5, 1.0)],
    },
}

DEFAULT_AUTOML = {
    "classification": ["logistic_regression", "lightgbm", "xgboost", "hist_gradient_boosting", "random_forest",
                       "extra_trees", "svm", "knn"],
    "regression": ["ridge", "elastic_net", "lightgbm", "xgboost", "hist_gradient_boosting", "random_forest",
                   "extra_trees", "svr", "knn"],
    "clustering": ["kmeans", "gaussian_mixture", "birch"],
    "anomalyDetection": ["isolation_forest", "local_outlier_factor", "elliptic_envelope"],
}
