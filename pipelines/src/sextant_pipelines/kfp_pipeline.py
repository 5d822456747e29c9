"""The training flow as a KFP v2 pipeline: four components calling the same step code, compiled to IR YAML."""


import os
from typing import Any

from kfp import compiler, dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

IMAGE = os.environ.get("SEXTANT_PIPELINES_IMAGE", "ghcr.io/sextant-ml/sextant-pipelines:0.1.0")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prepare(spec_json: str, store_uri: str, run_id: str, training_job_json: str, prepared: Output[Dataset],
            report: Output[HTML]) -> None:
    """Ingest, validate and profile the dataset; split it into training and holdout rows."""
    from sextant_pipelines.kfp_steps import prepare_component

    prepare_component(spec_json, store_uri, run_id, training_job_json, prepared.path, report.path)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fit(spec_json: str, store_uri: str, run_id: str, prepared: Input[Dataset], model: Output[Model]) -> None:
    """Train one estimator, tune it, or run AutoML; refit the winner on all training rows."""
    from sextant_pipelines.kfp_steps import fit_component

    fit_component(spec_json, store_uri, run_id, prepared.path, model.path)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(spec_json: str, store_uri: str, run_id: str, prepared: Input[Dataset], model: Input[Model],
             evaluation: Output[Artifact], metrics: Output[Metrics]) -> None:
    """Holdout metrics (and cross-validation when asked), also logged as KFP metrics."""
    from sextant_pipelines.kfp_steps import evaluate_component

    for name, value in evaluate_component(spec_json, store_uri, run_id, prepared.path, model.path,
                                          evaluation.path).items():
        metrics.log_metric(name, value)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register(spec_json: str, store_uri: str, run_id: str, training_job_json: str, prepared: Input[Dataset],
             model: Input[Model], evaluation: Input[Artifact], result: Output[Artifact]) -> None:
    """Judge acceptance, register the version, promote when accepted; write the result document."""
    from sextant_pipelines.kfp_steps import register_component

    register_component(spec_json, store_uri, run_id, training_job_json, prepared.path, model.path,
                       evaluation.path, result.path)


@dsl.pipeline(name="sextant-training", description="Sextant: dataset URI to an evaluated, registered model")
def training_pipeline(spec_json: str, store_uri: str, run_id: str, training_job_json: str = "{}") -> None:
    prepared = prepare(spec_json=spec_json, store_uri=store_uri, run_id=run_id, training_job_json=training_job_json)
    fitted = fit(spec_json=spec_json, store_uri=store_uri, run_id=run_id, prepared=prepared.outputs["prepared"])
    evaluated = evaluate(spec_json=spec_json, store_uri=store_uri, run_id=run_id, prepared=prepared.outputs["prepared"],
                         model=fitted.outputs["model"])
    registered = register(spec_json=spec_json, store_uri=store_uri, run_id=run_id,
                          training_job_json=training_job_json, prepared=prepared.outputs["prepared"],
                          model=fitted.outputs["model"], evaluation=evaluated.outputs["evaluation"])
    for task in (prepared, fitted, evaluated, registered):
        task.set_caching_options(False)
        task.set_display_name(task.name)


def compile_pipeline(path: str) -> str:
    """Write the pipeline's IR YAML to path and return the path."""
    compiler.Compiler().compile(training_pipeline, package_path=path)
    return path


def run_local(arguments: dict[str, Any], pipeline_root: str) -> None:
    """Execute the pipeline with kfp.local in subprocesses of this interpreter (no cluster, no containers)."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=pipeline_root, raise_on_error=True)
    training_pipeline(**arguments)
