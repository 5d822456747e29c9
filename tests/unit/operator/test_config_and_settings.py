"""Operator configuration from the environment and the kopf settings chosen from it."""

from __future__ import annotations

import logging

import kopf
import pytest

from sextant_operator.config import ConfigError, OperatorConfig, config_from_env
from sextant_operator.registry import build_registry
from sextant_operator.settings import CHANGE_HANDLED_KINDS, FINALIZER, EssenceWhereCompared, apply_settings


def test_defaults_are_clusterwide_with_bounded_workers() -> None:
    config = config_from_env({})
    assert config.clusterwide and config.worker_limit == 20 and config.default_backend == "job"


def test_namespaces_list_makes_the_operator_namespaced() -> None:
    config = config_from_env({"SEXTANT_NAMESPACES": "team-a, team-b"})
    assert config.namespaces == ("team-a", "team-b") and not config.clusterwide


def test_the_artifact_store_comes_from_the_charts_variables() -> None:
    config = config_from_env({"SEXTANT_STORE_URI": "s3://sextant", "SEXTANT_STORE_CREDENTIALS_SECRET": "sx-creds"})
    assert config.store_uri == "s3://sextant" and config.store_credentials_secret == "sx-creds"
    assert config_from_env({}).store_uri is None


def test_the_kubeflow_backend_comes_from_the_charts_variables() -> None:
    config = config_from_env({"SEXTANT_KFP_ENDPOINT": "http://ml-pipeline.kubeflow:8888/",
                              "SEXTANT_KFP_NAMESPACE": "team-a", "SEXTANT_KFP_TOKEN_FILE": "/var/run/kfp/token"})
    assert config.kubeflow_endpoint == "http://ml-pipeline.kubeflow:8888" and config.kubeflow_namespace == "team-a"
    assert str(config.kubeflow_token_file) == "/var/run/kfp/token" and config.kubeflow_experiment == "sextant"
    assert config_from_env({}).kubeflow_endpoint is None


@pytest.mark.parametrize("env,needle", [
    ({"SEXTANT_WORKER_LIMIT": "many"}, "SEXTANT_WORKER_LIMIT='many' is not an integer"),
    ({"SEXTANT_WORKER_LIMIT": "0"}, "SEXTANT_WORKER_LIMIT=0 is below 1"),
    ({"SEXTANT_ACTIVATION_TIMEOUT_SECONDS": "901"}, "SEXTANT_ACTIVATION_TIMEOUT_SECONDS=901 is above 900; set it to "
                                                    "a whole number >= 1 and <= 900"),
    ({"SEXTANT_DEFAULT_BACKEND": "spark"}, "use one of job, kubeflow"),
        ({"SEXTANT_TRAINER_PULL_POLICY": "Sometimes"}, "use one of Always, IfNotPresent, Never"),
    ({"SEXTANT_WEBHOOK_ENABLED": "maybe"}, "use true or false"),
    ({"SEXTANT_STORE_URI": "gs://bucket"}, "SEXTANT_STORE_URI='gs://bucket' is not a store URI"),
    ({"SEXTANT_KFP_ENDPOINT": "ml-pipeline:8888"}, "SEXTANT_KFP_ENDPOINT=.ml-pipeline:8888. is not an http"),
    ({"SEXTANT_DEFAULT_BACKEND": "kubeflow"}, "SEXTANT_DEFAULT_BACKEND=kubeflow needs SEXTANT_KFP_ENDPOINT"),
])
def test_invalid_values_name_the_variable_and_the_fix(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        config_from_env(env)


def test_settings_keep_progress_in_annotations_and_bound_everything() -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings, config_from_env({"SEXTANT_WORKER_LIMIT": "7", "SEXTANT_WATCH_TIMEOUT": "120"}))
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.persistence.finalizer == FINALIZER == "ml.sextant.io/finalizer"
    assert settings.watching.server_timeout == 120 and settings.watching.client_timeout == 150
    assert settings.queueing.worker_limit is None  # a kopf limit deadlocks index pre-population (handlers bound)
    assert settings.posting.level == logging.WARNING


def test_kopf_diffs_only_the_kinds_with_change_handlers() -> None:
    """Every other kind gets an empty essence (no deep copy of each pod event); the TrainingJob keeps kopf's."""
    registry = build_registry(OperatorConfig(webhook_enabled=False))
    changing = {h.selector.any_name for h in registry._changing.get_all_handlers() if h.selector is not None}
    assert changing == {"trainingjobs"} and CHANGE_HANDLED_KINDS == {"TrainingJob"}
    storage = EssenceWhereCompared(prefix="ml.sextant.io", key="last-handled-configuration")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"x": 1}}
    assert storage.build(body=kopf.Body(pod)) == {}
    job = {"apiVersion": "ml.sextant.io/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "t"},
           "spec": {"algorithm": "rf"}, "status": {"phase": "Running"}}
    assert storage.build(body=kopf.Body(job)) == {"spec": {"algorithm": "rf"}}


def test_kopf_does_not_log_every_handled_event() -> None:
    apply_settings(kopf.OperatorSettings(), config_from_env({}))
    assert not logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)
