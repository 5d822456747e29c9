"""Generated tabular data for the out-of-core tests: numeric, integer, categorical and partly missing columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns the trainer does not need; an out-of-core read must leave them unread.
UNUSED = ("row_id", "comment")


def frame(rows: int, seed: int = 0, noise_columns: int = 0) -> pd.DataFrame:
    """A classification table: target `label`, features a..e (and x0.. of uniform noise, which neither Parquet
    nor CSV compresses, to make big files), and two columns the spec excludes."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({
        "a": rng.normal(size=rows),
        "b": rng.integers(0, 1000, rows),
        "c": rng.choice(np.array(["red", "green", "blue", "amber"], dtype=object), rows),
        "d": np.where(rng.random(rows) < 0.3, np.nan, rng.exponential(size=rows)),
        "e": rng.uniform(-5, 5, rows),
        "row_id": np.arange(rows),
        "comment": rng.choice(np.array(["ok", "late", "n/a"], dtype=object), rows),
        "label": rng.choice(np.array(["no", "yes"], dtype=object), rows, p=[0.7, 0.3]),
    })
    data.loc[rng.random(rows) < 0.1, "c"] = None
    for i in range(noise_columns):
        data[f"x{i}"] = rng.random(rows)
    return data
