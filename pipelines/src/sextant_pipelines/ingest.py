"""Ingest: read a dataset from file://, s3:// or builtin: and select the features and target the spec names."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import pandas as pd
import pyarrow.parquet as pq
from sklearn import datasets

from sextant_contracts.catalogue import BUILTIN_DATASETS, format_from_uri
from sextant_contracts.digest import digest_bytes
from sextant_contracts.errors import ContractError
from sextant_contracts.storage import open_uri
from sextant_pipelines import compact
from sextant_pipelines.errors import DataError, SpecError
from sextant_pipelines.spec import DatasetSpec

#: The loaders of the datasets the CRD admits as builtin:<name> (a unit test checks the two lists agree).
BUILTINS: dict[str, Any] = {name: getattr(datasets, f"load_{name}") for name in BUILTIN_DATASETS}
#: Bytes pulled from the store at a time while parsing.
READ_CHUNK = 1 << 20


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


class HashingStream(io.RawIOBase):
    """A read-only stream over the store's stream that hashes the bytes as the parser pulls them: the dataset's
    digest costs no second read, and the file is never held whole as bytes (a 2 GB CSV was once read into
    memory and then parsed beside its copy). Keeps what error messages need: the first bytes and whether any
    byte was not blank."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._hasher = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.blank = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self._hasher.update(data)
        self.size += count
        if len(self.head) < 4:
            self.head += data[:4 - len(self.head)]
        if self.blank and data.strip():
            self.blank = False
        return count

    def digest(self) -> str:
        """The sha256 of every byte of the source: reads what the parser left (e.g. trailing blank lines)."""
        while self.read(READ_CHUNK):
            pass
        return self._hasher.hexdigest()


def _unreadable(uri: str, fmt: str, exc: Exception, head: bytes) -> DataError:
    other = "csv" if fmt == "parquet" else "parquet"
    looks_parquet = head[:4] == b"PAR1"
    hint = (f"the file looks like {other}; set dataset.format: {other}." if (fmt == "csv") == looks_parquet
            else f"check that the file is valid {fmt} (it may be truncated or corrupt).")
    return DataError(f"dataset {uri} could not be read as {fmt}: {type(exc).__name__}: {exc}", hint)


def _empty(uri: str) -> DataError:
    return DataError(f"dataset {uri} is empty (0 bytes of data).", "point dataset.uri at a file with rows.")


class ColumnFilter:
    """pandas' `usecols` callable: keeps the columns the spec can use and records the whole header, so a column
    the spec names that is missing is reported against every column the file has."""

    def __init__(self, spec: DatasetSpec) -> None:
        self._seen: dict[str, None] = {}  # ordered; pandas may ask about a column more than once
        named = [*(spec.features or []), *([spec.target] if spec.target else [])]
        self._keep = set(named) if spec.features else None
        self._exclude = set(spec.exclude)
        self.target = spec.target

    def __call__(self, column: Any) -> bool:
        name = str(column)
        self._seen[name] = None
        return name in self._keep if self._keep is not None else name not in self._exclude

    @property
    def header(self) -> list[str]:
        return list(self._seen)


def _read_csv(uri: str, columns: ColumnFilter) -> tuple[pd.DataFrame, str]:
    compression: Literal["gzip"] | None = "gzip" if uri.lower().endswith(".gz") else None
    with open_uri(uri) as raw:
        stream = HashingStream(raw)
        try:
            with pd.read_csv(io.BufferedReader(stream, READ_CHUNK), usecols=columns, compression=compression,
                             chunksize=compact.LARGE_ROWS) as chunks:
                frame = compact.concat_chunks(chunks, columns.target)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for malformed input
            if stream.blank:  # nothing but whitespace came before pandas gave up
                raise _empty(uri) from None
            raise _unreadable(uri, "csv", exc, stream.head) from None
        return frame, stream.digest()


def _read_parquet(uri: str, columns: ColumnFilter) -> tuple[pd.DataFrame, str]:
    """Parquet needs a seekable file: a local file is read in place (only the kept columns) and hashed in a
    streamed pass; an S3 object is fetched whole (Parquet is compressed, and only kept columns are decoded)."""
    with open_uri(uri) as raw:
        stream = HashingStream(raw)
        source: Any = raw.name if uri.startswith("file://") else io.BytesIO(stream.read())
        sha = stream.digest()
    if stream.size == 0 or stream.blank:
        raise _empty(uri)
    try:
        names = pq.read_schema(source).names
        frame = pd.read_parquet(source, columns=[n for n in names if columns(n)])
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for malformed input
        raise _unreadable(uri, "parquet", exc, stream.head) from None
    return (compact.compact_frame(frame, columns.target) if compact.is_large(len(frame)) else frame), sha


def read_frame(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str], str]:
    """The columns the spec can use, the file's whole header and a sha256 of its bytes; raises SpecError,
    DataError or StorageError."""
    if spec.uri.startswith("builtin:"):
        frame = load_builtin(spec.uri.split(":", 1)[1])
        return frame, [str(c) for c in frame.columns], \
            digest_bytes(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    if not spec.uri.startswith(("file://", "s3://")):
        raise SpecError("dataset.uri", f"{spec.uri!r} uses an unsupported scheme.",
                        "use file:///path, s3://bucket/key or builtin:<name>.")
    fmt = format_of(spec.uri, spec.format)
    columns = ColumnFilter(spec)
    try:
        frame, sha = (_read_parquet if fmt == "parquet" else _read_csv)(spec.uri, columns)
    except ContractError as exc:
        raise DataError(f"dataset {exc.message}", exc.fix) from None
    return frame, columns.header, sha


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


def select_columns(frame: pd.DataFrame, header: list[str], spec: DatasetSpec, task: str, uri: str,
                   sha256: str) -> Dataset:
    """Pick features and target as the spec says (checked against the file's whole `header`); raises
    SpecError/DataError naming the column."""
    frame.columns = [str(c) for c in frame.columns]
    chosen, target_name = choose_columns(header, spec, task)
    if len(frame) == 0:
        raise DataError(f"dataset {uri} has a header but no rows.", "point dataset.uri at a dataset with rows.")
    target = frame.pop(target_name) if target_name else None
    features = frame if list(frame.columns) == chosen else frame[chosen]
    return Dataset(features, target, uri, sha256)


def ingest(spec: DatasetSpec, task: str) -> Dataset:
    """Step 1: read the columns the spec can use and select. Raises SpecError, DataError."""
    frame, header, sha = read_frame(spec)
    return select_columns(frame, header, spec, task, spec.uri, sha)
