"""spec.compute of a TrainingJob: distributed compute (Dask) for data larger than one pod, and its admission rule."""

from __future__ import annotations

from typing import Annotated, Any, Required, TypedDict

from ..catalogue import DASK_ALGORITHMS
from .common import ComputeResources
from .fields import Field, Rule


class DaskCompute(TypedDict, total=False):
    """Train on a Dask cluster of several worker pods instead of in one pod, for data larger than a pod."""

    workers: Required[Annotated[int, Field(
        "Number of Dask worker pods. Size them so that workers x memory limit holds the needed columns about "
        "twice over (see docs/dask.md).", minimum=1, maximum=64)]]
    resources: Annotated[ComputeResources, Field(
        "CPU and memory of each Dask worker pod; its memory limit is the worker's memory limit, which Dask "
        "spills to disk and pauses at.")]
    image: Annotated[str, Field(
        "Image of the Dask scheduler and worker pods; it needs the same Python packages as the trainer. The "
        "trainer image when omitted.", min_length=1, max_length=512)]


class Compute(TypedDict, total=False):
    """Where the training computation runs beyond the training pod."""

    dask: Annotated[DaskCompute, Field(
        "Run ingest, profiling and training on Dask (only for algorithms with a distributed form: "
        f"{', '.join(DASK_ALGORITHMS)}).")]


def _dask_can_run(spec: dict[str, Any]) -> bool:
    if "dask" not in spec.get("compute", {}):
        return True
    distributed = any(spec.get(kind, {}).get("algorithm") in DASK_ALGORITHMS for kind in ("estimator", "tuning"))
    return distributed and not spec.get("suspend", False)


_DASK_LIST = "[" + ", ".join(f"'{name}'" for name in DASK_ALGORITHMS) + "]"
DASK_RULE = Rule(
    "!has(self.compute) || !has(self.compute.dask) || "
    f"(((has(self.estimator) && self.estimator.algorithm in {_DASK_LIST}) || "
    f"(has(self.tuning) && self.tuning.algorithm in {_DASK_LIST})) && !(has(self.suspend) && self.suspend))",
    "spec.compute.dask runs algorithms with a distributed form (estimator or tuning with algorithm: "
    f"{' or '.join(DASK_ALGORITHMS)}; automl on Dask is not available yet, and other algorithms need the whole "
    "dataset in one process) and cannot be suspended (a Dask run has no pause): use such an algorithm without "
    "spec.suspend, or remove spec.compute.dask to train in one pod",
    field_path=".compute.dask", check=_dask_can_run)
