"""The API server's rules and the trainer agree both ways: admitted if and only if trainable (for its spec).

Admitted means the contracts' rules (CRD schema and defaults, CEL through its Python twins, catalogue and
scikit-learn's constraints as data) accept the spec; trainable means the trainer parses it and its own
data-free checks with the real scikit-learn (`steps.check_plan`) pass. The API server's side of the same
cases runs in tests/integration/api/test_admission.py.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any

import pytest

from sextant_contracts.errors import ContractError
from sextant_contracts.rules.trainingjob import spec_schema, validate_trainingjob
from sextant_pipelines.errors import SpecError
from sextant_pipelines.spec import AutomlSpec, PreprocessingSpec, SplitSpec, TrainingSpec, TuningSpec, parse_spec
from sextant_pipelines.steps import check_plan
from tests.support.resources import invalid_cases, load_sample, merge_patch

TRAININGJOB_CASES = [c for c in invalid_cases() if c.resource["kind"] == "TrainingJob"]

VALID_VARIATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "time budget of an hour and a half": ("trainingjob_automl", {"automl": {"timeBudget": "1h30m"}}),
    "time budget in fractional hours": ("trainingjob_automl", {"automl": {"timeBudget": "1.5h"}}),
    "time budget in seconds": ("trainingjob_automl", {"automl": {"timeBudget": "90s"}}),
    "time budget in milliseconds": ("trainingjob_automl", {"automl": {"timeBudget": "1500ms"}}),
    "tuning without a strategy": ("trainingjob_tuning", {"tuning": {"strategy": None}}),
    "grid with a float step": ("trainingjob_tuning", {"tuning": {"strategy": "grid", "searchSpace": {
        "learning_rate": {"log": False, "step": 0.05}}}}),
    "int dimension with whole float bounds": ("trainingjob_tuning", {"tuning": {"searchSpace": {
        "max_depth": {"min": 2.0, "max": 8.0}}}}),
    "clustering evaluated on labels": ("trainingjob_clustering", {"dataset": {"target": "target", "exclude": None}}),
    "labelled anomalies stratified": ("trainingjob_anomaly", {"split": {"stratify": True}}),
    "regression not stratified": ("trainingjob_tuning", {"split": {"stratify": False}}),
    "smallest holdout": ("trainingjob", {"split": {"testFraction": 0.05}}),
    "largest holdout": ("trainingjob", {"split": {"testFraction": 0.5}}),
    "cross-validation off": ("trainingjob", {"evaluation": {"cvFolds": 0}}),
    "two-fold cross-validation": ("trainingjob", {"evaluation": {"cvFolds": 2}}),
    "promote to production": ("trainingjob", {"model": {"promote": "production"}}),
    "no promotion": ("trainingjob", {"model": {"promote": None}}),
    "requests equal to limits": ("trainingjob", {"resources": {"limits": {"cpu": 2, "memory": "4Gi"}}}),
    "limits in other units": ("trainingjob", {"resources": {"limits": {"memory": "5000Mi", "cpu": "2500m"}}}),
    "limit of another resource": ("trainingjob", {"resources": {"limits": {"ephemeral-storage": "1Gi"}}}),
    "gzipped csv": ("trainingjob", {"dataset": {"uri": "s3://data/exports/churn 2024.csv.gz", "format": None}}),
    "format given for an unusual name": ("trainingjob", {"dataset": {"uri": "s3://data/churn.data"}}),
    "parquet by its short suffix": ("trainingjob_anomaly", {"dataset": {"uri": "file:///d/t.PQ", "format": None}}),
    "every builtin dataset": ("trainingjob_automl", {"dataset": {"uri": "builtin:wine"}}),
    "learning rate zero is allowed by scikit-learn": ("trainingjob", {"estimator": {"params": {"learning_rate": 0}}}),
    "seed left to scikit-learn": ("trainingjob_anomaly", {"estimator": {"params": {"random_state": None}}}),
    "early stopping off": ("trainingjob_tuning", {"tuning": {"earlyStopping": {"strategy": "none"}}}),
    "ordinal encoding": ("trainingjob", {"preprocessing": {"encodeCategorical": "ordinal", "impute": "none"}}),
}


def _variation(base: str, patch: dict[str, Any]) -> dict[str, Any]:
    return merge_patch(load_sample(base)["spec"], patch)  # type: ignore[no-any-return]


def _trainable(spec: dict[str, Any]) -> TrainingSpec | None:
    try:
        parsed = parse_spec(copy.deepcopy(spec))
        check_plan(parsed)
    except ContractError:
        return None
    return parsed


@pytest.mark.parametrize("name", sorted(VALID_VARIATIONS))
def test_valid_variation_is_admitted_and_trainable(name: str) -> None:
    spec = _variation(*VALID_VARIATIONS[name])
    assert validate_trainingjob(spec) == []
    assert _trainable(spec) is not None


@pytest.mark.parametrize("case", TRAININGJOB_CASES, ids=lambda c: c.case)
def test_the_trainer_refuses_every_invalid_resource_naming_the_same_field(case: Any) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(copy.deepcopy(case.resource["spec"]))
    assert case.field in str(caught.value)


def test_durations_the_crd_documents_are_trained() -> None:
    parsed = parse_spec(_variation("trainingjob_automl", {"automl": {"timeBudget": "1h30m"}}))
    assert parsed.automl is not None and parsed.automl.time_budget_s == 5400


def test_defaults_are_the_crds() -> None:
    schema = spec_schema()["properties"]
    tuning = parse_spec(_variation("trainingjob_tuning", {"tuning": {
        "strategy": None, "maxTrials": None, "parallelTrials": None, "cvFolds": None}, "split": None,
        "preprocessing": None})).tuning
    assert tuning is not None
    crd_tuning = schema["tuning"]["properties"]
    assert tuning.strategy == crd_tuning["strategy"]["default"] == "random"
    assert (tuning.max_trials, tuning.parallel_trials, tuning.cv_folds) == (
        crd_tuning["maxTrials"]["default"], crd_tuning["parallelTrials"]["default"], crd_tuning["cvFolds"]["default"])
    parsed = parse_spec(_variation("trainingjob", {"split": None, "preprocessing": None, "evaluation": None}))
    split, prep = schema["split"]["properties"], schema["preprocessing"]["properties"]
    assert (parsed.split.test_fraction, parsed.split.seed) == (split["testFraction"]["default"],
                                                                split["seed"]["default"])
    assert (parsed.preprocessing.impute, parsed.preprocessing.scale, parsed.preprocessing.encode_categorical) == (
        prep["impute"]["default"], prep["scale"]["default"], prep["encodeCategorical"]["default"])
    assert parsed.split.stratify is True  # classification's default, as the CRD describes


def test_the_dataclass_defaults_are_the_crds() -> None:
    """Code that builds the typed spec by hand (tests, benchmarks) gets the same defaults as parse_spec."""
    schema = spec_schema()["properties"]

    def default(*path: str) -> Any:
        node = schema
        for key in path[:-1]:
            node = node[key]["properties"]
        return node[path[-1]]["default"]

    split, prep = SplitSpec(), PreprocessingSpec()
    assert (split.test_fraction, split.seed) == (default("split", "testFraction"), default("split", "seed"))
    assert (prep.impute, prep.scale, prep.encode_categorical) == (
        default("preprocessing", "impute"), default("preprocessing", "scale"),
        default("preprocessing", "encodeCategorical"))
    for cls, section in ((TuningSpec, "tuning"), (AutomlSpec, "automl")):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        assert fields["cv_folds"] == default(section, "cvFolds")
        assert fields["parallel_trials"] == default(section, "parallelTrials")
    assert {f.name: f.default for f in dataclasses.fields(TuningSpec)}["max_trials"] == default("tuning", "maxTrials")
    assert {f.name: f.default for f in dataclasses.fields(AutomlSpec)}["ensemble"] == default("automl", "ensemble")


def test_omitted_sections_get_the_crds_defaults() -> None:
    parsed = parse_spec(_variation("trainingjob_automl", {"split": None, "preprocessing": None, "evaluation": None}))
    assert parsed.split.test_fraction == spec_schema()["properties"]["split"]["properties"]["testFraction"]["default"]


def test_stratify_defaults_to_false_where_there_are_no_classes() -> None:
    parsed = parse_spec(_variation("trainingjob_tuning", {"split": {"stratify": None}}))
    assert parsed.split.stratify is False


# Values a user might put in each place: some valid, some not. Each mutation of a sample must be admitted
# exactly when the trainer can train it.
MUTATIONS: dict[tuple[str, ...], list[Any]] = {
    ("split", "testFraction"): [0, 0.04, 0.05, 0.2, 0.5, 0.51, 1, "0.2"],
    ("split", "seed"): [-1, 0, 7, 1.5],
    ("split", "stratify"): [True, False, None],
    ("evaluation", "cvFolds"): [-1, 0, 1, 2, 10, 21],
    ("preprocessing", "impute"): ["auto", "mean", "zero", "none"],
    ("preprocessing", "encodeCategorical"): ["onehot", "ordinal", "none", "target"],
    ("model", "promote"): ["staging", "production", "canary", None],
    ("model", "name"): ["churn", "Churn", "churn.v2", "c" * 64, "churn-2"],
    ("dataset", "uri"): ["s3://data/churn.csv", "s3://data", "s3://data/", "file:///x.parquet", "file://x.csv",
                         "builtin:iris", "builtin:titanic", "https://x/y.csv", "s3://data/x.txt"],
    ("dataset", "format"): ["csv", "parquet", "json", None],
    ("dataset", "target"): ["target", "", None],
    ("estimator", "algorithm"): ["gradient_boosting", "random_forest", "knn", "ridge", "kmeans", "xgboost"],
    ("estimator", "params", "max_depth"): [None, 0, 1, 3, -2, 2.5, "3"],
    ("estimator", "params", "n_estimators"): [0, 1, 50, True, "many"],
    ("estimator", "params", "learning_rate"): [-0.1, 0, 0.1, 2, "fast"],
    ("estimator", "params", "subsample"): [0, 0.5, 1.0, 1.5],
    ("estimator", "params", "random_state"): [None, -1, 0, 42, 2**32, "seed"],
    ("tuning", "strategy"): ["grid", "random", "bayesian", "hyperopt", None],
    ("tuning", "maxTrials"): [0, 1, 4, 40, 1001],
    ("tuning", "parallelTrials"): [0, 1, 4, 64, 65],
    ("tuning", "cvFolds"): [1, 2, 5, 21],
    ("tuning", "earlyStopping", "strategy"): ["none", "median", "hyperband"],
    ("tuning", "searchSpace", "max_depth", "min"): [0, 1, 2, 2.5, 9],
    ("tuning", "searchSpace", "learning_rate", "min"): [-1, 0, 0.001, 0.5],
    ("tuning", "searchSpace", "learning_rate", "step"): [0, 0.01, None],
    ("tuning", "searchSpace", "loss", "values"): [["squared_error"], ["hinge"], [], ["gamma", "poisson"]],
    ("tuning", "params", "max_iter"): [0, 1, 100, "100"],
    ("automl", "timeBudget"): ["10m", "1h30m", "0s", "1d", "ten minutes", 600, "90s"],
    ("automl", "algorithms"): [[], ["svm"], ["svm", "svm"], ["kmeans"], ["random_forest", "knn"]],
    ("automl", "ensemble"): ["auto", "none", "voting", "stacking", "blending"],
    ("automl", "cvFolds"): [1, 2, 3],
    ("resources", "limits"): [{"cpu": "1"}, {"cpu": "4"}, {"memory": "4Gi"}, {"memory": "3Gi"}, {"cpu": 2}],
    ("objective", "metric"): ["roc_auc", "accuracy", "rmse", "r2", "silhouette", "auc"],
    ("objective", "goal"): ["maximize", "minimize", None],
}
BASES = ("trainingjob", "trainingjob_tuning", "trainingjob_automl", "trainingjob_clustering", "trainingjob_anomaly")


def _set(spec: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


def _mutations(count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible test sample, not a secret
    paths = list(MUTATIONS)
    out = []
    for i in range(count):
        base = BASES[i % len(BASES)]
        spec = load_sample(base)["spec"]
        changed = []
        for path in rng.sample(paths, rng.randint(1, 3)):
            if path[0] in ("estimator", "tuning", "automl") and path[0] not in spec:
                continue
            value = rng.choice(MUTATIONS[path])
            _set(spec, path, value)
            changed.append(f"{'.'.join(path)}={value!r}")
        out.append((f"{base}: {', '.join(changed)}", spec))
    return out


def test_admitted_if_and_only_if_trainable() -> None:
    disagreements = []
    admitted_count = 0
    for label, spec in _mutations(600, seed=10):
        admitted = validate_trainingjob(spec) == []
        admitted_count += admitted
        if admitted != (_trainable(spec) is not None):
            disagreements.append(f"{label}: admitted={admitted}")
    assert not disagreements, "\n".join(disagreements)
    assert 100 < admitted_count < 500, "the mutations should mix valid and invalid specs"
