"""XGBoost across Dask workers without holding the data in memory: each worker streams its share of the partitions
into XGBoost's external-memory matrix, and XGBoost's own collective (its tracker, run on the Dask scheduler as
xgboost.dask runs it) joins the workers into one training.

xgboost.dask's estimators persist every training partition in the workers' memory first (and hand a worker all of
its partitions at once), so the data must fit the workers' memory. Here a worker holds one partition at a time:
it computes the partition from the source (read, encoded), gives it to XGBoost, which keeps only its compressed
histogram index on the worker's local disk (one byte per value), and releases it. Data several times larger than
the workers' memory then trains; what must fit is a partition in flight plus XGBoost's working set.
"""

from __future__ import annotations

import logging
import pickle
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any

import distributed
import xgboost
from distributed.comm.addressing import get_address_host
from xgboost.collective import CommunicatorContext
from xgboost.tracker import RabitTracker

log = logging.getLogger("sextant.pipelines.dask")


class PartitionStream(xgboost.DataIter):
    """XGBoost's data iterator over one worker's partitions, each computed here (synchronously, in this worker)
    when XGBoost asks for it and released when it asks for the next."""

    def __init__(self, partitions: list[Any], features: list[str], label: str, feature_types: list[str],
                 cache_prefix: str) -> None:
        super().__init__(cache_prefix=cache_prefix, release_data=True)
        self._partitions, self._features, self._label, self._types = partitions, features, label, feature_types
        self._next = 0

    def next(self, input_data: Callable[..., None]) -> bool:
        while self._next < len(self._partitions):
            part = self._partitions[self._next].compute(scheduler="sync")
            self._next += 1
            if len(part):  # a partition can be empty (rows held out at random): XGBoost takes no empty batch
                input_data(data=part[self._features], label=part[self._label], feature_types=self._types)
                return True
        return False

    def reset(self) -> None:
        self._next = 0


def start_tracker(workers: int, dask_scheduler: Any = None) -> dict[str, Any]:
    """Run on the scheduler (Client.run_on_scheduler): XGBoost's tracker, listening on the address the workers
    already reach the scheduler at. Returns the arguments each worker joins with."""
    host = get_address_host(dask_scheduler.address)
    tracker = RabitTracker(n_workers=workers, host_ip=host, sortby="task", timeout=0)
    tracker.start()
    threading.Thread(target=tracker.wait_for, daemon=True, name="xgboost-tracker").start()
    args: dict[str, Any] = tracker.worker_args()
    return args


def train_on_worker(partitions: bytes, rank: int, features: list[str], label: str, feature_types: list[str],
                    params: dict[str, Any], rounds: int, tracker: dict[str, Any]) -> bytes | None:
    """One worker's part of the training (a Dask task pinned to the worker). `partitions` is the pickled list of
    this worker's partitions as Delayed objects: pickled, so that Dask does not compute them as the task's inputs
    (which would load them all into memory before the task starts). Returns the model from rank 0."""
    worker = distributed.get_worker()
    threads = worker.state.nthreads
    parts = pickle.loads(partitions)  # noqa: S301 - built by this run's own client, not user input
    with tempfile.TemporaryDirectory(prefix="xgboost-pages-", dir=worker.local_directory) as cache, \
            CommunicatorContext(**tracker, dmlc_task_id=f"sextant-{rank:05d}"):
        stream = PartitionStream(parts, features, label, feature_types, f"{cache}/pages")
        matrix = xgboost.ExtMemQuantileDMatrix(stream, max_bin=params.get("max_bin", 256), enable_categorical=True,
                                               nthread=threads)
        booster = xgboost.train({**params, "nthread": threads}, matrix, num_boost_round=rounds)
        model = bytes(booster.save_raw("ubj")) if rank == 0 else None
        del booster, matrix, stream  # XGBoost deletes its page files with the matrix: before their directory goes
    return model


def native_params(task: str, params: dict[str, Any], classes: int) -> tuple[dict[str, Any], int]:
    """XGBoost's training parameters and rounds from the scikit-learn-style ones the catalogue and the spec use
    (through XGBoost's own translation), with the objective the task and the number of classes call for."""
    estimator = (xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor)(**params)
    native = {k: v for k, v in estimator.get_xgb_params().items() if v is not None}
    native.pop("n_jobs", None)
    if task == "classification" and classes > 2:
        native.update(objective="multi:softprob", num_class=classes)
    rounds = int(params.get("n_estimators") or 100)
    return native, rounds


def assign(partitions: int, workers: list[str]) -> dict[str, list[int]]:
    """Partitions to workers round-robin (a worker without any takes no part: XGBoost's collective needs every
    member to bring rows)."""
    shares = {worker: list(range(i, partitions, len(workers))) for i, worker in enumerate(workers)}
    return {worker: share for worker, share in shares.items() if share}


def train(client: Any, matrix: Any, features: list[str], label: str, feature_types: list[str],
          params: dict[str, Any], rounds: int) -> xgboost.Booster:
    """Train on every worker of the client's cluster; `matrix` is the lazy design matrix with its label column."""
    workers = sorted(client.scheduler_info()["workers"])
    delayed = matrix.to_delayed()
    shares = assign(len(delayed), workers)
    tracker = client.run_on_scheduler(start_tracker, len(shares))
    log.info("XGBoost out of core on %d workers: %s partitions", len(shares),
             ", ".join(str(len(s)) for s in shares.values()))
    futures = [client.submit(train_on_worker, pickle.dumps([delayed[i] for i in share]), rank, features, label,
                             feature_types, params, rounds, tracker, workers=[worker], allow_other_workers=False,
                             pure=False, key=f"xgboost-train-{rank}-{uuid.uuid4().hex}")
               for rank, (worker, share) in enumerate(shares.items())]
    models = [m for m in client.gather(futures) if m is not None]
    booster = xgboost.Booster()
    booster.load_model(bytearray(models[0]))
    return booster
