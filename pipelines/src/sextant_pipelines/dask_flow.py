"""A TrainingJob with spec.compute.dask, end to end: ingest, profile, train and evaluate on Dask workers, then
register and promote as any other run (flow.finish), so the model is an ordinary version the server loads.

The scheduler is the one DASK_SCHEDULER_ADDRESS names (a DaskJob's runner pod gets it from the Dask Kubernetes
operator), or, on one's own machine, a LocalCluster of the spec's workers started for the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

from sextant_contracts.storage import open_store
from sextant_pipelines import dask_train, flow, steps
from sextant_pipelines.dask_ingest import ingest_lazy
from sextant_pipelines.dask_profile import profile_lazy
from sextant_pipelines.errors import SpecError
from sextant_pipelines.spec import DaskSpec, TrainingSpec

log = logging.getLogger("sextant.pipelines.dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def check_dask_plan(spec: TrainingSpec) -> None:
    """What a Dask run cannot do yet, refused before any data is read (admission refuses other algorithms)."""
    if spec.automl is not None:
        raise SpecError("compute.dask", "automl on Dask is not available yet: a Dask run trains one estimator or "
                        "tunes one.", "use estimator or tuning with algorithm xgboost or lightgbm, or remove "
                        "compute.dask.")
    if spec.task not in ("classification", "regression") or spec.dataset.target is None:
        raise SpecError("compute.dask", f"{spec.task} on Dask is not available: it needs a target column.",
                        "train classification or regression with dataset.target, or remove compute.dask.")
    if spec.evaluation_cv_folds >= 2:
        raise SpecError("evaluation.cvFolds", "cross-validation is not available with compute.dask (a Dask run "
                        "holds out whole partitions).", "remove evaluation.cvFolds, or remove compute.dask.")


def peak_resident_bytes() -> int:
    """This process's peak resident set size (run on every worker by `Client.run`; Linux counts it in KiB). The
    nanny restarts a worker that nears its memory limit, which would start this count afresh, so the figure is
    only the run's peak if no worker restarted (the operator reports an OOMKilled or restarted worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.contextmanager
def dask_client(dask: DaskSpec) -> Iterator[Any]:
    """A distributed Client, the default one while the run lasts: to the scheduler in DASK_SCHEDULER_ADDRESS, or
    to a LocalCluster of the spec's workers (each with the spec's threads and memory limit)."""
    from distributed import Client, LocalCluster

    address = os.environ.get(SCHEDULER_ENV)
    if address:
        with Client(address) as client:  # type: ignore[no-untyped-call]
            log.info("connected to the Dask scheduler at %s (%d workers)", address,
                     len(client.scheduler_info().get("workers", {})))
            yield client
        return
    cluster = LocalCluster(n_workers=dask.workers, threads_per_worker=dask.threads,  # type: ignore[no-untyped-call]
                           processes=True, memory_limit=dask.memory_limit or "auto", dashboard_address=":0")
    with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        log.info("started a local Dask cluster of %d workers (dashboard %s)", dask.workers, client.dashboard_link)
        yield client


def run_on_dask(spec: TrainingSpec, context: flow.RunContext) -> dict[str, Any]:
    """Every step of a Dask run; returns the result document (flow.run_training's contract)."""
    assert spec.dask is not None
    started = time.perf_counter()
    steps.check_plan(spec)
    check_dask_plan(spec)
    store = open_store(context.store_uri)
    log.info("run %s: %s model %r from %s on Dask (%d workers)", context.run_id, spec.task, spec.model_name,
             spec.dataset.uri, spec.dask.workers)
    with dask_client(spec.dask) as client:
        begun = time.perf_counter()
        data = ingest_lazy(spec.dataset, spec.task)
        prof = profile_lazy(data, spec.task)
        log.info("step ingest+profile on Dask finished in %.2f s: %d rows, %d partitions, %d features",
                 time.perf_counter() - begun, prof.baseline["rows"], data.frame.npartitions, len(prof.schema))
        for warning in prof.warnings:
            log.warning("data quality: %s", warning)
        artifacts = flow.write_profile(store, context, spec, prof)
        trained = dask_train.train(client, spec, data, prof, spec.dask.threads)
        evaluation = dask_train.evaluate(spec, trained)
        peaks = sorted(client.run(peak_resident_bytes).values())
    evaluation.extras["compute"] = {"engine": "dask", "workers": len(peaks), "partitions": data.frame.npartitions,
                                    "workerPeakMemoryBytes": peaks}
    log.info("peak resident memory per worker: %s MiB", ", ".join(f"{p / 2**20:.0f}" for p in peaks))
    trained_on = steps.TrainedOn(prof, data.target, data.uri, None)
    result = flow.finish(spec, context, store, trained_on, trained.fitted, evaluation, artifacts, started)
    log.info("run %s finished on Dask in %.1f s: model %s version %d (%s)", context.run_id,
             result["durationSeconds"], spec.model_name, result["model"]["version"],
             "accepted" if result["accepted"] else "not accepted")
    return result
