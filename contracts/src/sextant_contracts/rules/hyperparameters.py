"""Hyperparameter values checked against scikit-learn's own constraints, kept as data (sklearn_constraints.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..sklearn_constraints import CONSTRAINTS

Alternative = Mapping[str, Any]


def _is_type(kind: str, value: object) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int)  # scikit-learn checks numbers.Integral, which bool is too
    if kind == "real":
        return isinstance(value, int | float)
    if kind == "real_not_int":
        return isinstance(value, float)
    return isinstance(value, {"str": str, "dict": dict, "list": list}[kind])


def _in_interval(alt: Alternative, value: float) -> bool:
    left, right, closed = alt["left"], alt["right"], alt["closed"]
    if left is not None and (value < left if closed in ("left", "both") else value <= left):
        return False
    return right is None or (value <= right if closed in ("right", "both") else value < right)


def satisfies(alt: Alternative, value: object) -> bool:
    """True when value meets one alternative of a constraint, as scikit-learn's is_satisfied_by decides."""
    kind = alt["kind"]
    if kind == "none":
        return value is None
    if kind == "type":
        return _is_type(alt["type"], value)
    if kind == "options":
        return _is_type(alt["type"], value) and value in alt["values"]
    return _is_type(alt["type"], value) and _in_interval(alt, value)  # type: ignore[arg-type]


def describe(alt: Alternative) -> str:
    """An alternative in words, as scikit-learn's error messages put it."""
    kind = alt["kind"]
    if kind == "none":
        return "None"
    if kind == "type":
        return f"an instance of {alt['type']}"
    if kind == "options":
        return f"one of {alt['values']}"
    low = "-inf" if alt["left"] is None else alt["left"]
    high = "inf" if alt["right"] is None else alt["right"]
    brackets = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[alt["closed"]]
    return f"a {alt['type']} in the range {brackets[0]}{low}, {high}{brackets[1]}"


def constraint_of(estimator: str, param: str) -> Sequence[Alternative]:
    """scikit-learn's alternatives for one parameter (empty when none can be checked on JSON values)."""
    return CONSTRAINTS.get(estimator, {}).get(param, [])


def violates(estimator: str, param: str, value: object) -> str | None:
    """Why scikit-learn would refuse value for param (its own constraint in words), or None when it accepts it."""
    alternatives = constraint_of(estimator, param)
    if not alternatives or any(satisfies(alt, value) for alt in alternatives):
        return None
    return f"scikit-learn's {estimator.rsplit('.', 1)[1]} needs {param} to be " + \
        " or ".join(describe(a) for a in alternatives) + f", got {value!r}"
