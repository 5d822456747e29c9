"""The algorithms, hyperparameters and metrics Sextant accepts per task, as plain data (no scikit-learn import).

The operator's admission webhook checks TrainingJobs against this catalogue; the training pipelines map the
same names onto scikit-learn estimators, so both sides agree on what a valid spec is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Task = Literal["classification", "regression", "clustering", "anomalyDetection"]
TASKS: tuple[Task, ...] = ("classification", "regression", "clustering", "anomalyDetection")
ValueType = Literal["int", "float", "bool", "str", "null"]
#: Datasets bundled with scikit-learn, named by `builtin:<name>` URIs.
BUILTIN_DATASETS: tuple[str, ...] = ("iris", "wine", "breast_cancer", "digits", "diabetes")
#: File-name endings the trainer reads the format from when `dataset.format` is omitted (lower case).
FORMAT_BY_SUFFIX: dict[str, str] = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def format_from_uri(uri: str) -> str | None:
    """csv or parquet when the URI's name tells the format, else None."""
    lowered = uri.lower()
    return next((fmt for suffix, fmt in FORMAT_BY_SUFFIX.items() if lowered.endswith(suffix)), None)


@dataclass(frozen=True)
class Param:
    """One hyperparameter: the JSON types it takes and, for strings, the accepted choices."""

    types: tuple[ValueType, ...]
    choices: tuple[str, ...] = ()

    def accepts(self, value: object) -> bool:
        """True when value has an accepted type (and, for a string, is one of the choices)."""
        kind = value_type(value)
        if kind == "int" and "int" not in self.types and "float" in self.types:
            return True
        if kind not in self.types:
            return False
        return not (kind == "str" and self.choices and value not in self.choices)

    def describe(self) -> str:
        text = " or ".join(self.types)
        return f"{text} (one of {', '.join(self.choices)})" if self.choices else text


@dataclass(frozen=True)
class Algorithm:
    """An algorithm offered for one task, the scikit-learn estimator behind it, and its hyperparameters."""

    name: str
    task: Task
    estimator: str
    params: dict[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """A metric and whether larger values are better."""

    name: str
    goal: Literal["maximize", "minimize"]
    needs_target: bool = True


def value_type(value: object) -> ValueType | Literal["list", "object"]:
    """JSON type name of a decoded value (bool before int: bool is an int subclass)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "list" if isinstance(value, list) else "object"


INT = Param(("int",))
FLOAT = Param(("float",))
BOOL = Param(("bool",))
INT_OR_NONE = Param(("int", "null"))
SEED = Param(("int", "null"))
N_JOBS = Param(("int", "null"))
MAX_FEATURES = Param(("int", "float", "str", "null"), ("sqrt", "log2"))


def choice(*options: str, none: bool = False) -> Param:
    return Param(("str", "null") if none else ("str",), options)


_TREE = {
    "max_depth": INT_OR_NONE, "min_samples_split": Param(("int", "float")),
    "min_samples_leaf": Param(("int", "float")), "min_weight_fraction_leaf": FLOAT,
    "max_features": MAX_FEATURES, "max_leaf_nodes": INT_OR_NONE, "min_impurity_decrease": FLOAT,
    "ccp_alpha": FLOAT, "random_state": SEED,
}
_FOREST = {**_TREE, "n_estimators": INT, "bootstrap": BOOL, "oob_score": BOOL, "n_jobs": N_JOBS,
           "max_samples": Param(("int", "float", "null")), "warm_start": BOOL}
_GBM = {"learning_rate": FLOAT, "n_estimators": INT, "subsample": FLOAT, **_TREE,
        "validation_fraction": FLOAT, "n_iter_no_change": INT_OR_NONE, "tol": FLOAT, "warm_start": BOOL}
_HGB = {"learning_rate": FLOAT, "max_iter": INT, "max_leaf_nodes": INT_OR_NONE, "max_depth": INT_OR_NONE,
        "min_samples_leaf": INT, "l2_regularization": FLOAT, "max_features": FLOAT, "max_bins": INT,
        "early_stopping": Param(("bool", "str"), ("auto",)), "validation_fraction": Param(("float", "null")),
        "n_iter_no_change": INT, "tol": FLOAT, "random_state": SEED}
_KNN = {"n_neighbors": INT, "weights": choice("uniform", "distance"),
        "algorithm": choice("auto", "ball_tree", "kd_tree", "brute"), "leaf_size": INT, "p": FLOAT,
        "metric": choice("minkowski", "euclidean", "manhattan", "chebyshev", "cosine"), "n_jobs": N_JOBS}
_KERNEL = choice("linear", "poly", "rbf", "sigmoid")
_GAMMA = Param(("float", "str"), ("scale", "auto"))
_SVM = {"C": FLOAT, "kernel": _KERNEL, "degree": INT, "gamma": _GAMMA, "coef0": FLOAT, "shrinking": BOOL,
        "tol": FLOAT, "max_iter": INT}
_LINEAR = {"fit_intercept": BOOL, "max_iter": INT, "tol": FLOAT, "random_state": SEED}
# Gradient-boosting libraries (PyPI wheels, pinned in pipelines' and services' pyproject.toml): their
# scikit-learn estimator classes, with the hyperparameters their constructors name.
_LGBM = {"boosting_type": choice("gbdt", "dart", "rf"), "num_leaves": INT, "max_depth": INT,
         "learning_rate": FLOAT, "n_estimators": INT, "subsample_for_bin": INT, "min_split_gain": FLOAT,
         "min_child_weight": FLOAT, "min_child_samples": INT, "subsample": FLOAT, "subsample_freq": INT,
         "colsample_bytree": FLOAT, "reg_alpha": FLOAT, "reg_lambda": FLOAT, "random_state": SEED,
         "n_jobs": N_JOBS}
_XGB = {"n_estimators": INT, "max_depth": INT_OR_NONE, "max_leaves": INT_OR_NONE, "max_bin": INT_OR_NONE,
        "grow_policy": choice("depthwise", "lossguide", none=True), "learning_rate": Param(("float", "null")),
        "tree_method": choice("auto", "exact", "approx", "hist", none=True),
        "booster": choice("gbtree", "gblinear", "dart", none=True), "gamma": Param(("float", "null")),
        "min_child_weight": Param(("float", "null")), "max_delta_step": Param(("float", "null")),
        "subsample": Param(("float", "null")), "colsample_bytree": Param(("float", "null")),
        "colsample_bylevel": Param(("float", "null")), "colsample_bynode": Param(("float", "null")),
        "reg_alpha": Param(("float", "null")), "reg_lambda": Param(("float", "null")), "random_state": SEED,
        "n_jobs": N_JOBS, "verbosity": INT_OR_NONE}


def _algorithms() -> dict[Task, dict[str, Algorithm]]:
    c: Task = "classification"
    r: Task = "regression"
    k: Task = "clustering"
    a: Task = "anomalyDetection"
    entries = [
        Algorithm("logistic_regression", c, "sklearn.linear_model.LogisticRegression", {
            "C": FLOAT, "penalty": choice("l1", "l2", "elasticnet", none=True), "l1_ratio": Param(("float", "null")),
            "solver": choice("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"),
            "class_weight": choice("balanced", none=True), **_LINEAR}),
        Algorithm("random_forest", c, "sklearn.ensemble.RandomForestClassifier", {
            **_FOREST, "criterion": choice("gini", "entropy", "log_loss"),
            "class_weight": choice("balanced", "balanced_subsample", none=True)}),
        Algorithm("gradient_boosting", c, "sklearn.ensemble.GradientBoostingClassifier", {
            **_GBM, "loss": choice("log_loss", "exponential"), "criterion": choice("friedman_mse", "squared_error")}),
        Algorithm("hist_gradient_boosting", c, "sklearn.ensemble.HistGradientBoostingClassifier", {
            **_HGB, "loss": choice("log_loss"), "class_weight": choice("balanced", none=True)}),
        Algorithm("svm", c, "sklearn.svm.SVC", {
            **_SVM, "probability": BOOL, "class_weight": choice("balanced", none=True), "random_state": SEED}),
        Algorithm("knn", c, "sklearn.neighbors.KNeighborsClassifier", _KNN),
        Algorithm("decision_tree", c, "sklearn.tree.DecisionTreeClassifier", {
            **_TREE, "criterion": choice("gini", "entropy", "log_loss"), "splitter": choice("best", "random"),
            "class_weight": choice("balanced", none=True)}),
        Algorithm("extra_trees", c, "sklearn.ensemble.ExtraTreesClassifier", {
            **_FOREST, "criterion": choice("gini", "entropy", "log_loss"),
            "class_weight": choice("balanced", "balanced_subsample", none=True)}),
        Algorithm("naive_bayes", c, "sklearn.naive_bayes.GaussianNB", {"var_smoothing": FLOAT}),
        Algorithm("sgd", c, "sklearn.linear_model.SGDClassifier", {
            "loss": choice("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"),
            "penalty": choice("l2", "l1", "elasticnet", none=True), "alpha": FLOAT, "l1_ratio": FLOAT,
            "early_stopping": BOOL, "class_weight": choice("balanced", none=True), **_LINEAR}),
        Algorithm("lightgbm", c, "lightgbm.LGBMClassifier", {
            **_LGBM, "class_weight": choice("balanced", none=True)}),
        Algorithm("xgboost", c, "xgboost.XGBClassifier", {**_XGB, "scale_pos_weight": Param(("float", "null"))}),
        Algorithm("linear_regression", r, "sklearn.linear_model.LinearRegression", {
            "fit_intercept": BOOL, "positive": BOOL, "n_jobs": N_JOBS}),
        Algorithm("ridge", r, "sklearn.linear_model.Ridge", {
            "alpha": FLOAT, "solver": choice("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"),
            "positive": BOOL, **_LINEAR}),
        Algorithm("lasso", r, "sklearn.linear_model.Lasso", {
            "alpha": FLOAT, "positive": BOOL, "selection": choice("cyclic", "random"), **_LINEAR}),
        Algorithm("elastic_net", r, "sklearn.linear_model.ElasticNet", {
            "alpha": FLOAT, "l1_ratio": FLOAT, "positive": BOOL, "selection": choice("cyclic", "random"),
            **_LINEAR}),
        Algorithm("random_forest", r, "sklearn.ensemble.RandomForestRegressor", {
            **_FOREST, "criterion": choice("squared_error", "absolute_error", "friedman_mse", "poisson")}),
        Algorithm("gradient_boosting", r, "sklearn.ensemble.GradientBoostingRegressor", {
            **_GBM, "loss": choice("squared_error", "absolute_error", "huber", "quantile"), "alpha": FLOAT,
            "criterion": choice("friedman_mse", "squared_error")}),
        Algorithm("hist_gradient_boosting", r, "sklearn.ensemble.HistGradientBoostingRegressor", {
            **_HGB, "loss": choice("squared_error", "absolute_error", "gamma", "poisson", "quantile"),
            "quantile": Param(("float", "null"))}),
        Algorithm("svr", r, "sklearn.svm.SVR", {**_SVM, "epsilon": FLOAT}),
        Algorithm("knn", r, "sklearn.neighbors.KNeighborsRegressor", _KNN),
        Algorithm("decision_tree", r, "sklearn.tree.DecisionTreeRegressor", {
            **_TREE, "criterion": choice("squared_error", "friedman_mse", "absolute_error", "poisson"),
            "splitter": choice("best", "random")}),
        Algorithm("extra_trees", r, "sklearn.ensemble.ExtraTreesRegressor", {
            **_FOREST, "criterion": choice("squared_error", "absolute_error", "friedman_mse", "poisson")}),
        Algorithm("lightgbm", r, "lightgbm.LGBMRegressor", _LGBM),
        Algorithm("xgboost", r, "xgboost.XGBRegressor", _XGB),
        Algorithm("kmeans", k, "sklearn.cluster.KMeans", {
            "n_clusters": INT, "init": choice("k-means++", "random"), "n_init": Param(("int", "str"), ("auto",)),
            "max_iter": INT, "tol": FLOAT, "algorithm": choice("lloyd", "elkan"), "random_state": SEED}),
        Algorithm("minibatch_kmeans", k, "sklearn.cluster.MiniBatchKMeans", {
            "n_clusters": INT, "init": choice("k-means++", "random"), "n_init": Param(("int", "str"), ("auto",)),
            "max_iter": INT, "batch_size": INT, "tol": FLOAT, "max_no_improvement": INT_OR_NONE,
            "reassignment_ratio": FLOAT, "random_state": SEED}),
        # Only clusterers that can assign new rows (predict) are offered: a served model must score requests.
        Algorithm("birch", k, "sklearn.cluster.Birch", {
            "threshold": FLOAT, "branching_factor": INT, "n_clusters": INT_OR_NONE, "compute_labels": BOOL}),
        Algorithm("gaussian_mixture", k, "sklearn.mixture.GaussianMixture", {
            "n_components": INT, "covariance_type": choice("full", "tied", "diag", "spherical"), "tol": FLOAT,
            "reg_covar": FLOAT, "max_iter": INT, "n_init": INT, "init_params": choice(
                "kmeans", "k-means++", "random", "random_from_data"), "random_state": SEED}),
        Algorithm("isolation_forest", a, "sklearn.ensemble.IsolationForest", {
            "n_estimators": INT, "max_samples": Param(("int", "float", "str"), ("auto",)),
            "contamination": Param(("float", "str"), ("auto",)), "max_features": Param(("int", "float")),
            "bootstrap": BOOL, "n_jobs": N_JOBS, "random_state": SEED}),
        Algorithm("one_class_svm", a, "sklearn.svm.OneClassSVM", {
            "kernel": _KERNEL, "degree": INT, "gamma": _GAMMA, "coef0": FLOAT, "tol": FLOAT, "nu": FLOAT,
            "shrinking": BOOL, "max_iter": INT}),
        Algorithm("local_outlier_factor", a, "sklearn.neighbors.LocalOutlierFactor", {
            "n_neighbors": INT, "algorithm": choice("auto", "ball_tree", "kd_tree", "brute"), "leaf_size": INT,
            "metric": choice("minkowski", "euclidean", "manhattan", "chebyshev", "cosine"), "p": FLOAT,
            "contamination": Param(("float", "str"), ("auto",)), "novelty": BOOL, "n_jobs": N_JOBS}),
        Algorithm("elliptic_envelope", a, "sklearn.covariance.EllipticEnvelope", {
            "store_precision": BOOL, "assume_centered": BOOL, "support_fraction": Param(("float", "null")),
            "contamination": FLOAT, "random_state": SEED}),
    ]
    table: dict[Task, dict[str, Algorithm]] = {t: {} for t in TASKS}
    for algo in entries:
        table[algo.task][algo.name] = algo
    return table


ALGORITHMS: dict[Task, dict[str, Algorithm]] = _algorithms()
#: The algorithms with a distributed (Dask) form, the only ones `spec.compute.dask` may run: gradient boosting
#: through xgboost.dask and lightgbm.dask. The one list admission reads; an algorithm joins it once the trainer
#: can fit it partition-wise (everything else would need the whole dataset in one process).
DASK_ALGORITHMS: tuple[str, ...] = ("xgboost", "lightgbm")

_CLASSIFICATION_METRICS = (
    Metric("accuracy", "maximize"), Metric("balanced_accuracy", "maximize"), Metric("f1", "maximize"),
    Metric("f1_macro", "maximize"), Metric("f1_weighted", "maximize"), Metric("precision", "maximize"),
    Metric("recall", "maximize"), Metric("roc_auc", "maximize"), Metric("average_precision", "maximize"),
    Metric("log_loss", "minimize"),
)
METRICS: dict[Task, dict[str, Metric]] = {
    "classification": {m.name: m for m in _CLASSIFICATION_METRICS},
    "regression": {m.name: m for m in (
        Metric("r2", "maximize"), Metric("explained_variance", "maximize"), Metric("rmse", "minimize"),
        Metric("mse", "minimize"), Metric("mae", "minimize"), Metric("mape", "minimize"),
        Metric("median_absolute_error", "minimize"))},
    "clustering": {m.name: m for m in (
        Metric("silhouette", "maximize", needs_target=False),
        Metric("calinski_harabasz", "maximize", needs_target=False),
        Metric("davies_bouldin", "minimize", needs_target=False))},
    "anomalyDetection": {m.name: m for m in (
        Metric("roc_auc", "maximize"), Metric("average_precision", "maximize"), Metric("f1", "maximize"),
        Metric("precision", "maximize"), Metric("recall", "maximize"),
        Metric("anomaly_fraction", "minimize", needs_target=False))},
}
DEFAULT_METRIC: dict[Task, str] = {
    "classification": "accuracy", "regression": "r2", "clustering": "silhouette",
    "anomalyDetection": "anomaly_fraction",
}
