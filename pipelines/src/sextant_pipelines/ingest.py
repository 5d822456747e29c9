"""Ingest: read a dataset from file://, s3:// or builtin: and select the features and target the spec names."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn import datasets

from sextant_contracts.catalogue import BUILTIN_DATASETS, format_from_uri
from sextant_contracts.digest import digest_bytes
from sextant_contracts.errors import ContractError
from sextant_contracts.storage import read_uri
from sextant_pipelines.errors import DataError, SpecError
from sextant_pipelines.spec import DatasetSpec

#: The loaders of the datasets the CRD admits as builtin:<name> (a unit test checks the two lists agree).
BUILTINS: dict[str, Any] = {name: getattr(datasets, f"load_{name}") for name in BUILTIN_DATASETS}


@dataclass(frozen=True)
class Dataset:
    """The selected columns plus where they came from (for lineage)."""

    features: pd.DataFrame
    target: pd.Series | None
    uri: str
    sha256: str


def load_builtin(name: str) -> pd.DataFrame:
    """A scikit-learn bundled dataset as one frame with a `target` column; raises SpecError for unknown names."""
    if name not in BUILTINS:
        raise SpecError("dataset.uri", f"builtin dataset {name!r} does not exist.",
                        f"use builtin:<name> with one of {', '.join(sorted(BUILTINS))}.")
    bunch = BUILTINS[name](as_frame=True)
    frame: pd.DataFrame = bunch.frame.copy()
    return frame


def format_of(uri: str, declared: str | None) -> str:
    found = declared or format_from_uri(uri)  # the CRD refuses a spec whose format neither says
    if found:
        return found
    raise SpecError("dataset.format", f"cannot tell the format of {uri!r} from its name.",
                    "set format: csv or parquet.")


def parse_bytes(data: bytes, fmt: str, uri: str) -> pd.DataFrame:
    """Decode CSV or Parquet bytes; raises DataError saying the bytes do not match the format."""
    if not data.strip():
        raise DataError(f"dataset {uri} is empty (0 bytes of data).", "point dataset.uri at a file with rows.")
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), compression="infer")
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow raise many types for malformed input
        other = "csv" if fmt == "parquet" else "parquet"
        looks_parquet = data[:4] == b"PAR1"
        hint = (f"the file looks like {other}; set dataset.format: {other}." if (fmt == "csv") == looks_parquet
                else f"check that the file is valid {fmt} (it may be truncated or corrupt).")
        raise DataError(f"dataset {uri} could not be read as {fmt}: {type(exc).__name__}: {exc}", hint) from None


def read_frame(spec: DatasetSpec) -> tuple[pd.DataFrame, str]:
    """Read the whole table and a sha256 of its source bytes; raises SpecError, DataError or StorageError."""
    if spec.uri.startswith("builtin:"):
        frame = load_builtin(spec.uri.split(":", 1)[1])
        return frame, digest_bytes(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    if not spec.uri.startswith(("file://", "s3://")):
        raise SpecError("dataset.uri", f"{spec.uri!r} uses an unsupported scheme.",
                        "use file:///path, s3://bucket/key or builtin:<name>.")
    fmt = format_of(spec.uri, spec.format)
    try:
        data = read_uri(spec.uri)
    except ContractError as exc:
        raise DataError(f"dataset {exc.message}", exc.fix) from None
    return parse_bytes(data, fmt, spec.uri), digest_bytes(data)


def choose_columns(columns: list[str], spec: DatasetSpec, task: str) -> tuple[list[str], str | None]:
    """The feature columns and the target the spec picks from the dataset's columns; raises SpecError/DataError
    naming the column. Shared by the single-process and the out-of-core ingest."""
    supervised = task in ("classification", "regression")
    if supervised and not spec.target:
        raise SpecError("dataset.target", f"a {task} job needs a target column.", "set dataset.target.")
    if spec.target and spec.target not in columns:
        raise DataError(f"target column {spec.target!r} is not in the dataset (columns: {', '.join(columns[:20])}).",
                        "fix dataset.target to one of the dataset's columns.")
    for name in [*(spec.features or []), *spec.exclude]:
        if name not in columns:
            raise DataError(f"column {name!r} named in dataset.features/exclude is not in the dataset.",
                            f"use columns that exist: {', '.join(columns[:20])}.")
    chosen = spec.features or [c for c in columns if c != spec.target and c not in spec.exclude]
    chosen = [c for c in chosen if c not in spec.exclude and c != spec.target]
    if not chosen:
        raise DataError("no feature columns are left after selecting target and exclusions.",
                        "list dataset.features or exclude fewer columns.")
    return chosen, spec.target


def select_columns(frame: pd.DataFrame, spec: DatasetSpec, task: str, uri: str, sha256: str) -> Dataset:
    """Pick features and target as the spec says; raises SpecError/DataError naming the column."""
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    chosen, target_name = choose_columns(columns, spec, task)
    if len(frame) == 0:
        raise DataError(f"dataset {uri} has a header but no rows.", "point dataset.uri at a dataset with rows.")
    target = frame[target_name] if target_name else None
    return Dataset(frame[chosen].copy(), target.copy() if target is not None else None, uri, sha256)


def ingest(spec: DatasetSpec, task: str) -> Dataset:
    """Step 1: read and select. Raises SpecError, DataError."""
    frame, sha = read_frame(spec)
    return select_columns(frame, spec, task, spec.uri, sha)
