"""The algorithm catalogue: the estimators (scikit-learn, LightGBM, XGBoost) per task and how params are checked."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn import cluster, covariance, ensemble, linear_model, mixture, naive_bayes, neighbors, svm, tree
from sklearn.base import BaseEstimator
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from sextant_pipelines.errors import SpecError

COST_ROWS = 1_000  # the row count the catalogue's relative costs describe

@dataclass(frozen=True)
class Algorithm:
    """One catalogue entry: how to build it, with which defaults, and whether it is fast to try first."""

    name: str
    factory: Callable[..., BaseEstimator]
    defaults: dict[str, Any] = field(default_factory=dict)
    seeded: bool = True
    cost: int = 1
    wrap: Callable[[BaseEstimator], BaseEstimator] | None = None
    rows_power: float = 1.0  # how a fit's time grows with the rows: 1 linear, 2 for kernel SVMs

    def cost_at(self, rows: int) -> float:
        """Relative cost of a fit on `rows` rows. The weights are set at about 1,000 rows; an algorithm that grows
        faster than linearly costs that much more beyond (a kernel SVM took 20 s of a 30 s budget on 12,000 rows,
        where gradient boosting took under 1 s)."""
        return float(self.cost * max(rows / COST_ROWS, 1.0) ** (self.rows_power - 1))

    def estimator_class(self) -> Callable[..., BaseEstimator]:
        """The estimator class itself: for an entry imported on use, importing it now."""
        factory = self.factory
        return factory.resolve() if isinstance(factory, ImportedOnUse) else factory


def _a(name: str, factory: Callable[..., BaseEstimator], cost: int = 1, seeded: bool = True,
       wrap: Callable[[BaseEstimator], BaseEstimator] | None = None, rows_power: float = 1.0,
       **defaults: Any) -> Algorithm:
    return Algorithm(name, factory, defaults, seeded, cost, wrap, rows_power)


# XGBoost's classifier takes only labels 0..k-1; one-vs-rest (scikit-learn's) gives it 0/1 per class and keeps
# the user's labels in classes_ (one model for two classes; k for k classes, as native multiclass builds k trees
# per round), so the pickled model holds only scikit-learn and XGBoost classes.
def _one_vs_rest(estimator: BaseEstimator) -> BaseEstimator:
    return OneVsRestClassifier(estimator)


@dataclass(frozen=True)
class ImportedOnUse:
    """A factory that imports `module` when an estimator is first built: LightGBM and XGBoost (with what they pull
    in) took seconds to import, which every `sextant-train` start and every KFP step paid even when unused."""

    module: str
    cls: str

    def resolve(self) -> Callable[..., BaseEstimator]:
        factory: Callable[..., BaseEstimator] = getattr(importlib.import_module(self.module), self.cls)
        return factory

    def __call__(self, **params: Any) -> BaseEstimator:
        return self.resolve()(**params)


# One thread each: parallelism comes from parallel trials (as for the BLAS pools in crossval); quiet logs.
# LightGBM at its defaults (100 rounds, histogram splits) fits about as fast as a linear model on tabular data, so
# it is tried among the first; XGBoost (depth-wise trees) a little later.
_LGBM: dict[str, Any] = {"n_jobs": 1, "verbose": -1}
_XGB: dict[str, Any] = {"n_jobs": 1, "tree_method": "hist", "verbosity": 0}


CATALOGUE: dict[str, dict[str, Algorithm]] = {
    "classification": {a.name: a for a in [
        _a("logistic_regression", linear_model.LogisticRegression, max_iter=2000),
        _a("random_forest", ensemble.RandomForestClassifier, 3, n_estimators=200),
        _a("extra_trees", ensemble.ExtraTreesClassifier, 3, n_estimators=200),
        _a("gradient_boosting", ensemble.GradientBoostingClassifier, 4),
        _a("hist_gradient_boosting", ensemble.HistGradientBoostingClassifier, 3),
        _a("svm", svm.SVC, 2, rows_power=2.0, probability=True),
        _a("knn", neighbors.KNeighborsClassifier, 1, seeded=False),
        _a("decision_tree", tree.DecisionTreeClassifier, 1),
        _a("naive_bayes", naive_bayes.GaussianNB, 1, seeded=False),
        _a("sgd", linear_model.SGDClassifier, 1, loss="log_loss"),
        Algorithm("lightgbm", ImportedOnUse("lightgbm", "LGBMClassifier"), _LGBM, cost=1),
        Algorithm("xgboost", ImportedOnUse("xgboost", "XGBClassifier"), _XGB, cost=2, wrap=_one_vs_rest),
    ]},
    "regression": {a.name: a for a in [
        _a("linear_regression", linear_model.LinearRegression, 1, seeded=False),
        _a("ridge", linear_model.Ridge, 1, seeded=False),
        _a("lasso", linear_model.Lasso, 1, max_iter=5000),
        _a("elastic_net", linear_model.ElasticNet, 1, max_iter=5000),
        _a("random_forest", ensemble.RandomForestRegressor, 3, n_estimators=200),
        _a("extra_trees", ensemble.ExtraTreesRegressor, 3, n_estimators=200),
        _a("gradient_boosting", ensemble.GradientBoostingRegressor, 4),
        _a("hist_gradient_boosting", ensemble.HistGradientBoostingRegressor, 3),
        _a("svr", svm.SVR, 2, seeded=False, rows_power=2.0),
        _a("knn", neighbors.KNeighborsRegressor, 1, seeded=False),
        _a("decision_tree", tree.DecisionTreeRegressor, 1),
        Algorithm("lightgbm", ImportedOnUse("lightgbm", "LGBMRegressor"), _LGBM, cost=1),
        Algorithm("xgboost", ImportedOnUse("xgboost", "XGBRegressor"), _XGB, cost=2),
    ]},
    "clustering": {a.name: a for a in [
        _a("kmeans", cluster.KMeans, 1, n_init=10),
        _a("minibatch_kmeans", cluster.MiniBatchKMeans, 1, n_init=3),
        _a("gaussian_mixture", mixture.GaussianMixture, 2),
        _a("birch", cluster.Birch, 1, seeded=False),
    ]},
    "anomalyDetection": {a.name: a for a in [
        _a("isolation_forest", ensemble.IsolationForest, 2, n_estimators=200),
        _a("local_outlier_factor", neighbors.LocalOutlierFactor, 1, seeded=False, novelty=True),
        _a("one_class_svm", svm.OneClassSVM, 2, seeded=False, rows_power=2.0),
        _a("elliptic_envelope", covariance.EllipticEnvelope, 1),
    ]},
}


def algorithm_for(task: str, name: str, where: str = "estimator.algorithm") -> Algorithm:
    """Look up an algorithm; raises SpecError listing the task's algorithms (and the closest name)."""
    entries = CATALOGUE[task]
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, entries, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise SpecError(where, f"{name!r} is not a {task} algorithm.{hint}",
                    f"use one of {', '.join(sorted(entries))}.")


def check_params(task: str, name: str, params: dict[str, Any], where: str) -> None:
    """Validate names and values of hyperparameters against the estimator; raises SpecError naming the param."""
    algorithm = algorithm_for(task, name)
    known = algorithm.factory().get_params(deep=False)
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"{where}.{key}", f"{name} has no hyperparameter {key!r}.{hint}",
                            f"use one of {', '.join(sorted(known))}.")
    constraints = getattr(algorithm.estimator_class(), "_parameter_constraints", {})
    try:
        validate_parameter_constraints(constraints, {**algorithm.defaults, **params}, caller_name=name)
    except InvalidParameterError as exc:
        param = next((k for k in params if f"'{k}'" in str(exc)), "")
        raise SpecError(f"{where}.{param}" if param else where, str(exc),
                        "fix the value to satisfy the constraint.") from None


def build_estimator(task: str, name: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    """Instantiate a catalogue algorithm with defaults, params and (if it takes one) the seed."""
    algorithm = algorithm_for(task, name)
    merged = {**algorithm.defaults, **params}
    if algorithm.seeded and "random_state" in algorithm.factory().get_params(deep=False):
        merged.setdefault("random_state", seed)
    estimator = algorithm.factory(**merged)
    return algorithm.wrap(estimator) if algorithm.wrap else estimator
