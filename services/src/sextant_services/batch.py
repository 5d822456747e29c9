"""Batch scoring: score a CSV/Parquet dataset in chunks with a registered model; write predictions atomically.

`python -m sextant_services.batch --store URI --model NAME (--version N | --alias A) --input URI --output URI
--id-column id` reads the input chunk by chunk (bounded memory), checks each chunk against the model's feature
schema, and writes `id, prediction[, proba_<class>...]` to a temporary file that is published only when every
row is scored: a failure leaves no output at all. Progress goes to the log after every chunk, and with
--progress-key to a small JSON document in the store; --termination-message receives the outcome (rows, or the
rejected row and column). Exit codes: 0 published, 2 the input or model cannot be scored (retrying cannot help),
1 anything else (a store outage: the Job may retry).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import batch_io, batch_report
from .dataplane import predict_columns
from .errors import BadRow, ModelLoadError, SchemaMismatch
from .features import FeatureSchema
from .model_source import LoadedModel, ModelRef, load_model

log = logging.getLogger("sextant_services.batch")


@dataclass(frozen=True)
class Progress:
    rows: int
    chunks: int
    total_rows: int | None

    @property
    def fraction(self) -> float | None:
        return None if not self.total_rows else self.rows / self.total_rows


def columns_from_arrow(batch: pa.RecordBatch, schema: FeatureSchema, first_row: int) -> dict[str, Any]:
    """Numpy columns for the model's features; raises SchemaMismatch naming the input column."""
    names = batch.schema.names
    out: dict[str, Any] = {}
    for spec in schema.features:
        if spec.name not in names:
            raise SchemaMismatch(f"input has no column {spec.name!r}; the model needs {schema.names}",
                                 field=spec.name)
        col = batch.column(names.index(spec.name))
        if col.null_count and not spec.nullable:
            row = first_row + 1 + int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise BadRow(f"column {spec.name!r} is empty at data row {row} and the feature is not nullable",
                         field=spec.name, row=row)
        if spec.kind == "numeric":
            out[spec.name] = _numeric(col, spec.name, first_row)
        else:
            out[spec.name] = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
    return out


def _numeric(col: pa.Array, name: str, first_row: int) -> np.ndarray:
    """float64 values of a numeric feature; text that is not a number is a SchemaMismatch naming the row."""
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type):
        values: np.ndarray = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return values
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise SchemaMismatch(f"column {name!r} must be numeric, found {col.type}", field=name)
    import pandas as pd

    raw = pd.Series(col.to_pylist(), dtype=object)
    parsed = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & raw.notna().to_numpy())
    if bad.size:
        row = first_row + 1 + int(bad[0])
        raise BadRow(f"column {name!r} must be numeric; data row {row} holds {raw.iloc[int(bad[0])]!r}", field=name,
                     row=row)
    result: np.ndarray = parsed.to_numpy(dtype=np.float64)
    return result


def score_batch(model: LoadedModel, batch: pa.RecordBatch, id_column: str, proba: bool,
                first_row: int) -> pa.RecordBatch:
    if id_column not in batch.schema.names:
        raise SchemaMismatch(f"input has no id column {id_column!r}; pass --id-column", field=id_column)
    cols = columns_from_arrow(batch, model.schema, first_row)
    preds, probabilities = predict_columns(model, cols, proba)
    arrays = [batch.column(batch.schema.names.index(id_column)), pa.array(preds)]
    names = [id_column, "prediction"]
    if probabilities is not None:
        for j, cls in enumerate(model.classes or range(probabilities.shape[1])):
            arrays.append(pa.array(probabilities[:, j]))
            names.append(f"proba_{cls}")
    return pa.RecordBatch.from_arrays(arrays, names=names)


def score_dataset(model: LoadedModel, input_uri: str, output_uri: str, id_column: str, chunk_rows: int = 10_000,
                  proba: bool = False, input_format: str | None = None, output_format: str | None = None,
                  on_progress: Callable[[Progress], None] | None = None, count_total: bool = False) -> Progress:
    """Score `input_uri` into `output_uri`; nothing is written there unless every chunk succeeds.

    With `count_total`, a CSV's rows are counted first (one pass over the id column) so progress has a total;
    `on_progress` is then also called once before the first chunk. Raises SchemaMismatch (BadRow naming the row)
    for data the model cannot take, ValueError for an unreadable format, FileNotFoundError for missing input.
    """
    if proba and not model.is_classifier:
        raise SchemaMismatch(f"--proba needs a classifier; {model.name!r} is a {model.task} model", field="proba")
    in_fmt = batch_io.dataset_format(input_uri, input_format)
    out_fmt = batch_io.dataset_format(output_uri, output_format)
    with batch_io.workdir() as work, batch_io.local_copy(input_uri, work) as local:
        reader = batch_io.ChunkReader(local, in_fmt, chunk_rows)
        writer = batch_io.ChunkWriter(work / f"output.{out_fmt}", out_fmt)
        if reader.total_rows is None and count_total:
            reader.total_rows = batch_io.count_rows(local, in_fmt, id_column)
        progress = Progress(0, 0, reader.total_rows)
        if on_progress is not None and count_total:
            on_progress(progress)
        try:
            for batch in reader:
                writer.write(score_batch(model, batch, id_column, proba, progress.rows))
                progress = Progress(progress.rows + batch.num_rows, progress.chunks + 1, reader.total_rows)
                if on_progress is not None:
                    on_progress(progress)
        except pa.ArrowInvalid as exc:  # e.g. text in a numeric CSV column past the first block
            raise SchemaMismatch(f"input {input_uri!r} after row {progress.rows}: {exc}", field="input") from None
        finally:
            writer.close()
        if progress.rows == 0:
            raise SchemaMismatch(f"input {input_uri!r} has no rows", field="input")
        batch_io.publish(writer.path, output_uri)
    return progress


def _log_progress(started: float) -> Callable[[Progress], None]:
    def report(p: Progress) -> None:
        pct = f" of {p.total_rows} ({100 * p.fraction:.0f}%)" if p.fraction is not None else ""
        log.info("scored %d rows%s in %d chunks, %.0f rows/s", p.rows, pct, p.chunks,
                 p.rows / max(time.monotonic() - started, 1e-9))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sextant_services.batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="artifact store URI (file:// or s3://)")
    parser.add_argument("--model", required=True)
    ref = parser.add_mutually_exclusive_group(required=True)
    ref.add_argument("--version", type=int)
    ref.add_argument("--alias")
    parser.add_argument("--digest", help="sha256 of the artifact pinned by the caller: another one is refused")
    parser.add_argument("--input", required=True, help="dataset URI: file:// or s3://, .csv or .parquet")
    parser.add_argument("--output", required=True, help="output URI: file:// or s3://, .csv or .parquet")
    parser.add_argument("--id-column", required=True, help="column copied from input to output")
    parser.add_argument("--chunk-rows", type=int, default=10_000, help="rows scored at a time (bounds memory)")
    parser.add_argument("--proba", action="store_true", help="also write class probabilities")
    parser.add_argument("--input-format", choices=["csv", "parquet"])
    parser.add_argument("--output-format", choices=["csv", "parquet"])
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--termination-message", type=Path,
                        help="file receiving the outcome as JSON at exit (a pod's /dev/termination-log)")
    parser.add_argument("--progress-key", help="key in --store receiving rows done/total as JSON after each chunk "
                        "(counts only); CSV rows are then counted before scoring")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    reporter = batch_report.Reporter(args.store, args.progress_key, args.termination_message, args.output)
    try:
        model = load_model(args.store, ModelRef(args.model, args.version, args.alias, args.digest), args.cache_dir)
        reporter.model_version = model.version
        done = score_dataset(model, args.input, args.output, args.id_column, args.chunk_rows, args.proba,
                             args.input_format, args.output_format, reporter.progress(_log_progress(started)),
                             count_total=args.progress_key is not None)
    except (ModelLoadError, SchemaMismatch, ValueError, FileNotFoundError) as exc:
        log.error("batch scoring failed; nothing was written to %s: %s", args.output, exc)
        return reporter.failed(exc, permanent=True)
    except Exception as exc:  # noqa: BLE001 - a store or network fault: reported, and the Job may retry
        log.exception("batch scoring failed; nothing was written to %s", args.output)
        return reporter.failed(exc, permanent=False)
    log.info("wrote %d predictions to %s in %.1f s", done.rows, args.output, time.monotonic() - started)
    return reporter.succeeded(done.rows, done.total_rows)


if __name__ == "__main__":
    sys.exit(main())
