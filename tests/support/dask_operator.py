"""The Dask Kubernetes operator in the local cluster, installed the documented way: as the Sextant chart's optional
dependency (dask.installOperator, packaged from the pinned dask-kubernetes wheel by `make chart-deps`), its image
built here (controlplane/dask-operator)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tests.support.real_pods import chart_in_namespace, image_refs


def dask_operator_values(cluster: Any) -> list[str]:
    """--set values: Sextant's Dask support on, the Dask operator installed with its image built here."""
    repository, tag = image_refs(cluster)["dask-operator"].rsplit(":", 1)
    return ["dask.enabled=true", "dask.installOperator=true", f"dask-kubernetes-operator.image.name={repository}",
            f"dask-kubernetes-operator.image.tag={tag}", "dask-kubernetes-operator.image.pullPolicy=Never"]


@contextlib.contextmanager
def sextant_with_dask(cluster: Any, namespace: str) -> Iterator[str]:
    """A restricted namespace with Sextant (release sx) and the Dask operator installed by its chart, deleted on
    exit. One at a time: the Dask operator watches every namespace."""
    with chart_in_namespace(cluster, namespace, *dask_operator_values(cluster)) as name:
        yield name
