"""Dataset I/O for batch scoring: stream CSV/Parquet chunks from file:// or s3://, publish output atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def dataset_format(uri: str, explicit: str | None) -> str:
    """csv or parquet, from --format or the file extension; raises ValueError saying how to fix it."""
    if explicit:
        if explicit not in ("csv", "parquet"):
            raise ValueError(f"format {explicit!r}: use csv or parquet")
        return explicit
    path = urlparse(uri).path.lower()
    if path.endswith((".csv", ".csv.gz")):
        return "csv"
    if path.endswith((".parquet", ".pq")):
        return "parquet"
    raise ValueError(f"cannot tell the format of {uri!r} from its extension; pass --input-format/--output-format")


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")  # honours AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_REGION...


def _split_s3(uri: str) -> tuple[str, str]:
    u = urlparse(uri)
    if not u.netloc or not u.path.strip("/"):
        raise ValueError(f"{uri!r}: an S3 URI needs a bucket and a key, like s3://bucket/path/data.csv")
    return u.netloc, u.path.lstrip("/")


def _local_path(uri: str) -> Path:
    u = urlparse(uri)
    if u.scheme in ("", "file"):
        return Path(unquote(u.path))
    raise ValueError(f"{uri!r}: only file:// and s3:// URIs are supported")


@contextmanager
def local_copy(uri: str, workdir: Path) -> Iterator[Path]:
    """A local path for `uri`: the file itself, or an S3 object streamed to disk (never into memory)."""
    if urlparse(uri).scheme == "s3":
        bucket, key = _split_s3(uri)
        dest = workdir / ("input-" + Path(key).name)
        _s3_client().download_file(bucket, key, str(dest))
        yield dest
    else:
        path = _local_path(uri)
        if not path.is_file():
            raise FileNotFoundError(f"input {uri!r} does not exist")
        yield path


@dataclass
class ChunkReader:
    """Record batches of at most `chunk_rows` rows; `total_rows` is known for Parquet, None for CSV."""

    path: Path
    fmt: str
    chunk_rows: int
    total_rows: int | None = None

    def __post_init__(self) -> None:
        if self.fmt == "parquet":
            self.total_rows = pq.ParquetFile(self.path).metadata.num_rows

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self.fmt == "parquet":
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=self.chunk_rows)
            return
        reader = pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            while size >= self.chunk_rows:
                table = pa.Table.from_batches(pending)
                yield from table.slice(0, self.chunk_rows).combine_chunks().to_batches()
                rest = table.slice(self.chunk_rows)
                pending, size = rest.to_batches(), rest.num_rows
        if size:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def count_rows(path: Path, fmt: str, column: str) -> int | None:
    """Rows of a local dataset (Parquet from its footer; CSV by one streaming pass over one column, quoting
    respected), or None when they cannot be counted that way (e.g. the column is missing)."""
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22),
                                convert_options=pacsv.ConvertOptions(include_columns=[column],
                                                                     column_types={column: pa.string()}))
        return int(sum(batch.num_rows for batch in reader))
    except (pa.ArrowInvalid, KeyError):
        return None


class ChunkWriter:
    """Appends record batches to a local temporary file in CSV or Parquet."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._writer: Any = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._writer = (pq.ParquetWriter(self.path, batch.schema) if self.fmt == "parquet"
                            else pacsv.CSVWriter(self.path, batch.schema))
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def publish(local: Path, uri: str) -> None:
    """Make `local` appear at `uri` all at once: rename within the target directory, or one S3 upload
    (multipart uploads only become visible when completed, and are aborted on failure)."""
    if urlparse(uri).scheme == "s3":
        bucket, key = _split_s3(uri)
        _s3_client().upload_file(str(local), bucket, key)
        return
    target = _local_path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    try:
        shutil.copyfile(local, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sextant-batch-") as tmp:
        yield Path(tmp)
