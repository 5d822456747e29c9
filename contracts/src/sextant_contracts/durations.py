"""Durations such as 90s, 10m or 1h30m (Go's time.ParseDuration, which CEL's duration() uses), in seconds."""

from __future__ import annotations

import re

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Go durations are int64 nanoseconds: about 292 years.
MAX_SECONDS = (2**63 - 1) / 1e9


def parse_duration(text: str) -> float:
    """Seconds in a duration like 1h30m; raises ValueError for text the CRD pattern or Go would refuse."""
    if not isinstance(text, str) or not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m or 1h30m")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than the longest duration (about 292 years)")
    return seconds


def is_positive_duration(text: object) -> bool:
    """True for a valid duration longer than zero (the Python twin of `duration(x) > duration('0s')`)."""
    try:
        return parse_duration(str(text)) > 0
    except ValueError:
        return False
