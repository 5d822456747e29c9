"""Field metadata attached to the typed resource models, from which the CRD OpenAPI schemas are generated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: A hyperparameter or search-space value: any JSON scalar or list (kept as-is by the API server).
JsonValue = Any


@dataclass(frozen=True)
class Rule:
    """A CEL `x-kubernetes-validations` rule evaluated by the API server on the annotated object.

    `check` is the same rule in Python, evaluated on the same (defaulted) object by every other reader of the
    resource (the admission webhook, the trainer), so the API server and they cannot disagree; tests apply
    each rule both ways to the same resources.
    """

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None
    check: Callable[[Any], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class Field:
    """What the API server needs to know about one field beyond its Python type.

    `description` is mandatory: it is what `kubectl explain` prints.
    """

    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    max_properties: int | None = None
    format: str | None = None
    rules: tuple[Rule, ...] = ()
    list_map_keys: tuple[str, ...] = ()
    int_or_string: bool = False
    preserve_unknown: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
