"""Compact dtypes for large datasets: a table read in chunks is kept at a fraction of pandas' default size.

A dataset of more than LARGE_ROWS rows (issue: a 2 GB CSV trains in a pod with a 6 GiB limit) is held as
  - float32 for every float feature (7 significant digits; LightGBM and XGBoost learn in float32 anyway),
  - the smallest integer type that holds each integer feature's values (lossless),
  - pandas categoricals for string features with repeated values (lossless: one small code per row),
and the target exactly as read. A smaller dataset is returned exactly as pandas read it, so models trained on it,
and the serving fast path that reproduces their float64 arithmetic, are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.api.types import union_categoricals

#: Rows read at a time; a dataset with more rows than one chunk is compacted.
LARGE_ROWS = 1_000_000
#: A string column becomes categorical when its distinct values are at most this share of a chunk's rows
#: (free text, where every value differs, would cost more as a categorical than as strings).
CATEGORY_SHARE = 0.5


def is_large(rows: int) -> bool:
    return rows > LARGE_ROWS


def compact_column(column: pd.Series) -> pd.Series:
    """One feature column of a large dataset in its compact dtype."""
    if ptypes.is_bool_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype):
        return column
    if ptypes.is_float_dtype(column):
        return column.astype(np.float32)
    if ptypes.is_integer_dtype(column):
        return pd.to_numeric(column, downcast="integer")
    if ptypes.is_string_dtype(column) or ptypes.is_object_dtype(column):
        if column.nunique(dropna=True) <= CATEGORY_SHARE * len(column):
            return column.astype("str").astype("category")
    return column


def compact_frame(frame: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """Every feature column of `frame` compacted; the target column as it is."""
    return pd.DataFrame({name: frame[name] if name == target else compact_column(frame[name])
                         for name in frame.columns}, index=frame.index)


def _joined(parts: list[pd.Series]) -> pd.Series:
    """One column from its chunks. pandas infers each chunk's dtype alone: a column that is a string in any chunk
    is a string in every chunk (as one whole-file parse would have made it), kept categorical when it was."""
    if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        return pd.Series(union_categoricals(parts), name=parts[0].name)
    if all(ptypes.is_numeric_dtype(p) for p in parts):  # booleans included
        return pd.concat(parts, ignore_index=True)
    strings = pd.concat([p.astype("str") for p in parts], ignore_index=True)
    categorical = any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts)
    return strings.astype("category") if categorical else strings


def concat_chunks(chunks: Iterable[pd.DataFrame], target: str | None) -> pd.DataFrame:
    """The table from its chunks: one chunk (a small dataset) as pandas read it, more compacted chunk by chunk
    (so the float64 parse of the whole file never exists at once) and joined column by column."""
    it: Iterator[pd.DataFrame] = iter(chunks)
    first, second = next(it, None), next(it, None)
    if first is None or second is None:
        return first if first is not None else pd.DataFrame()
    compacted = [compact_frame(chunk, target) for chunk in chain([first, second], it)]
    del first, second
    return pd.DataFrame({name: _joined([chunk[name] for chunk in compacted]) for name in compacted[0].columns})
