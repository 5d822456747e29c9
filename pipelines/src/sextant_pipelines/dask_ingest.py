"""Out-of-core ingest: a lazy dask.dataframe of only the needed columns, read partition by partition.

Nothing here reads data: it builds the graph. Each partition (a few Parquet row groups, or a block of CSV lines)
is read by whichever process computes it — a Dask worker under a distributed Client, this process otherwise —
so no process ever holds the dataset. s3:// is read through s3fs with the store's endpoint from the same
environment variables `sextant_contracts.storage` uses; the keys are not put in the graph (it is sent to the
scheduler and shown on its dashboard): every process that reads finds them in its own environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), as a credentials Secret mounted with envFrom provides them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import dask
import dask.dataframe as dd

from sextant_pipelines.errors import DataError, SpecError
from sextant_pipelines.ingest import choose_columns, format_of
from sextant_pipelines.spec import DatasetSpec

#: Bytes of the file per partition. A partition takes about 3-4 times this in a worker's memory while it is
#: parsed (raw bytes, Arrow table, pandas frame), so 32 MiB keeps a 1-thread worker with a few hundred MiB safe.
PARTITION_BYTES = 32 * 2**20


@dataclass(frozen=True)
class LazyDataset:
    """The needed columns of a dataset as a dask.dataframe, and which of them are features and target."""

    frame: dd.DataFrame
    features: list[str]
    target: str | None
    uri: str


def storage_options(uri: str) -> dict[str, Any]:
    """s3fs options: the endpoint and region from the environment (never the keys, see the module docstring)."""
    if not uri.startswith("s3://"):
        return {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    client = {k: v for k, v in (("endpoint_url", endpoint), ("region_name", region)) if v}
    return {"client_kwargs": client} if client else {}


def _path(uri: str) -> str:
    if uri.startswith("file://"):
        return uri.removeprefix("file://")
    if uri.startswith("s3://"):
        return uri
    raise SpecError("dataset.uri", f"{uri!r} cannot be read out of core.",
                    "use s3://bucket/key or file:///path (builtin: datasets fit in one process).")


def _open(uri: str, fmt: str, columns: list[str] | None) -> dd.DataFrame:
    path, options = _path(uri), storage_options(uri)
    # Keep strings as object columns, as pandas reads them in one process, so both paths report the same dtypes.
    with dask.config.set({"dataframe.convert-string": False}):
        frame: dd.DataFrame
        if fmt == "parquet":
            frame = dd.read_parquet(path, columns=columns, storage_options=options, blocksize=PARTITION_BYTES,
                                    split_row_groups="adaptive")
        else:
            compressed = path.lower().endswith(".gz")  # gzip cannot be split: one partition per file
            frame = dd.read_csv(path, usecols=columns, storage_options=options,
                                blocksize=None if compressed else PARTITION_BYTES,
                                compression="gzip" if compressed else None)
    return frame


def ingest_lazy(spec: DatasetSpec, task: str) -> LazyDataset:
    """Read the column names (Parquet footers, or the CSV's first block), then open only the needed columns."""
    fmt = format_of(spec.uri, spec.format)
    try:
        columns = [str(c) for c in _open(spec.uri, fmt, None).columns]
        features, target = choose_columns(columns, spec, task)
        frame = _open(spec.uri, fmt, [*features, *([target] if target else [])])
    except (SpecError, DataError):
        raise
    except FileNotFoundError as exc:
        raise DataError(f"dataset {spec.uri} does not exist ({exc}).",
                        "check the bucket and key (or path), or upload the data first.") from None
    except PermissionError as exc:
        raise DataError(f"dataset {spec.uri} is not readable with these credentials ({exc}).",
                        "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (dataset.credentialsSecret).") from None
    except Exception as exc:  # noqa: BLE001 - fsspec, pyarrow and pandas raise many types for unreadable data
        raise DataError(f"dataset {spec.uri} could not be read as {fmt}: {type(exc).__name__}: {exc}",
                        f"check that the data is valid {fmt}, or set dataset.format.") from None
    return LazyDataset(frame, features, target, spec.uri)
