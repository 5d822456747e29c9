"""Date and time columns as numbers a model can learn from; a step of the trained model's own Pipeline.

It lives here, in the package both the trainer and the model server install, because a pickled Pipeline refers
to its functions by module path: a model with a date column must load wherever the model is served or scored.
It runs only inside a model, where pandas (and numpy) are installed; the contracts themselves do not need them.
"""

from __future__ import annotations

from typing import Any

#: The numbers each date becomes, in this order: calendar parts a tree can split on (seasons, weekdays, hours)
#: and the days since 1970-01-01 for trends. A value that is not a date (or missing) gives NaN in each.
DATETIME_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "days_since_epoch")


def parse_dates(values: Any) -> Any:
    """ISO 8601 text (or datetime values) to UTC timestamps; what does not parse becomes NaT."""
    import pandas as pd

    return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", format="ISO8601", utc=True)


def datetime_parts(X: Any) -> Any:
    """An (n, k) array of dates to an (n, k * len(DATETIME_PARTS)) float array, column by column."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(X)
    blocks = []
    for column in frame.columns:
        stamps = parse_dates(frame[column].to_numpy())
        days = (stamps - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
        parts = [stamps.dt.year, stamps.dt.month, stamps.dt.day, stamps.dt.day_of_week, stamps.dt.day_of_year,
                 stamps.dt.hour + stamps.dt.minute / 60, days]
        blocks.append(np.column_stack([p.to_numpy(dtype=float, na_value=np.nan) for p in parts]))
    return np.hstack(blocks) if blocks else np.empty((len(frame), 0))


def datetime_part_names(transformer: Any, input_features: Any) -> list[str]:
    """Output names for FunctionTransformer's get_feature_names_out (`<column>_<part>`)."""
    return [f"{name}_{part}" for name in input_features for part in DATETIME_PARTS]
