"""Date and time columns as numbers a model can learn from; a step of the trained model's own Pipeline.

It lives here, in the package both the trainer and the model server install, because a pickled Pipeline refers
to its functions by module path: a model with a date column must load wherever it is served or scored. Plain
Python (the contracts need no numpy or pandas): the same `datetime.fromisoformat` decides what a date is when the
profile types a column, when the model computes its parts and when the server checks a request.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

#: The numbers each date becomes, in this order: calendar parts a tree can split on (seasons, weekdays, hours)
#: and the days since 1970-01-01 for trends. A value that is not a date (or missing) gives NaN in each.
DATETIME_PARTS = ("year", "month", "day", "weekday", "day_of_year", "hour", "days_since_epoch")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MISSING = [math.nan] * len(DATETIME_PARTS)


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text, a datetime (pandas' Timestamp is one) or a date as an aware UTC datetime (naive ones are
    taken as UTC); None for anything else, missing values included."""
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if stamp != stamp:  # noqa: PLR0124 - pandas' NaT is a datetime that equals nothing, itself included
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def date_parts(value: Any) -> list[float]:
    stamp = parse_datetime(value)
    if stamp is None:
        return list(_MISSING)
    return [float(stamp.year), float(stamp.month), float(stamp.day), float(stamp.weekday()),
            float(stamp.timetuple().tm_yday), stamp.hour + stamp.minute / 60, (stamp - EPOCH) / timedelta(days=1)]


def datetime_parts(X: Any) -> list[list[float]]:
    """Rows of date columns (a DataFrame or an array of objects) to rows of len(DATETIME_PARTS) numbers per
    column; scikit-learn's next step reads the nested list as an array."""
    rows = X.to_numpy(dtype=object).tolist() if hasattr(X, "to_numpy") else [list(row) for row in X]
    return [[part for value in row for part in date_parts(value)] for row in rows]


def datetime_part_names(transformer: Any, input_features: Any) -> list[str]:
    """Output names for FunctionTransformer's get_feature_names_out (`<column>_<part>`)."""
    return [f"{name}_{part}" for name in input_features for part in DATETIME_PARTS]

