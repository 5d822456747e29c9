"""Turns the typed resource models (TypedDicts annotated with Field) into structural OpenAPI v3 schemas."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from .fields import Field, Rule

Schema = dict[str, Any]


class SchemaError(TypeError):
    """A model uses a type the generator cannot express, or a field lacks its description."""


def _split_annotated(tp: Any) -> tuple[Any, Field | None]:
    """Strip Required/NotRequired and Annotated; return the bare type and its Field, if any."""
    field: Field | None = None
    while True:
        origin = get_origin(tp)
        if origin in (typing.Required, typing.NotRequired):
            tp = get_args(tp)[0]
        elif origin is typing.Annotated:
            args = get_args(tp)
            field = next((a for a in args[1:] if isinstance(a, Field)), field)
            tp = args[0]
        else:
            return tp, field


def _is_required(tp: Any, total: bool) -> bool:
    """Required[...] marks a required key of a total=False TypedDict (read from the hints, because
    `from __future__ import annotations` hides it from __required_keys__ on Python 3.11)."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _is_required(get_args(tp)[0], total)
    if origin is typing.Required:
        return True
    if origin is typing.NotRequired:
        return False
    return total


def _rules(rules: tuple[Rule, ...]) -> list[dict[str, str]]:
    out = []
    for r in rules:
        entry = {"rule": r.rule, "message": r.message}
        if r.field_path:
            entry["fieldPath"] = r.field_path
        if r.reason:
            entry["reason"] = r.reason
        out.append(entry)
    return out


def _apply_field(schema: Schema, field: Field) -> Schema:
    """Copy the Field's constraints onto a schema (description first, for readable YAML)."""
    out: Schema = {"description": field.description, **{k: v for k, v in schema.items() if k != "description"}}
    pairs: list[tuple[str, Any]] = [
        ("default", field.default), ("minimum", field.minimum), ("maximum", field.maximum),
        ("minLength", field.min_length), ("maxLength", field.max_length), ("pattern", field.pattern),
        ("minItems", field.min_items), ("maxItems", field.max_items),
        ("maxProperties", field.max_properties), ("format", field.format),
    ]
    out.update({k: v for k, v in pairs if v is not None})
    if field.exclusive_minimum:
        out["exclusiveMinimum"] = True
    if field.list_map_keys:
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = list(field.list_map_keys)
    if field.preserve_unknown and out.get("type") == "object":
        out["x-kubernetes-preserve-unknown-fields"] = True
    out.update(field.extra)
    if field.rules:
        out["x-kubernetes-validations"] = _rules(field.rules)
    return out


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def object_schema(cls: type, class_rules: Mapping[object, tuple[Rule, ...]]) -> Schema:
    """Schema of a TypedDict: properties, required keys, and the CEL rules registered for the class."""
    hints = typing.get_type_hints(cls, include_extras=True)
    props: Schema = {}
    for name, tp in hints.items():
        bare, field = _split_annotated(tp)
        if field is None:
            raise SchemaError(f"{cls.__name__}.{name} has no Field(description=...)")
        props[name] = _apply_field(type_schema(bare, class_rules), field)
    out: Schema = {"type": "object", "properties": props}
    total = bool(getattr(cls, "__total__", True))
    required = sorted(name for name, tp in hints.items() if _is_required(tp, total))
    if required:
        out["required"] = required
    if cls in class_rules:
        out["x-kubernetes-validations"] = _rules(class_rules[cls])
    return out


def type_schema(tp: Any, class_rules: Mapping[object, tuple[Rule, ...]]) -> Schema:
    """Schema of one Python type (str, int, float, bool, Literal, list, dict, TypedDict, Any)."""
    bare, field = _split_annotated(tp)
    if field is not None:
        return _apply_field(type_schema(bare, class_rules), field)
    origin = get_origin(bare)
    if bare is Any:
        return {"x-kubernetes-preserve-unknown-fields": True}
    if bare in _SCALARS:
        return {"type": _SCALARS[bare]}
    if origin is Literal:
        values = list(get_args(bare))
        return {"type": "string", "enum": values}
    if origin in (Union, types.UnionType) and set(get_args(bare)) == {str, int}:
        return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    if origin is list:
        return {"type": "array", "items": type_schema(get_args(bare)[0], class_rules)}
    if origin is dict:
        key, value = get_args(bare)
        if key is not str:
            raise SchemaError(f"map keys must be str, not {key!r}")
        value_schema = type_schema(value, class_rules)
        if value_schema == {"x-kubernetes-preserve-unknown-fields": True}:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": value_schema}
    if _is_typeddict(bare):
        doc = " ".join((bare.__doc__ or "").split())
        return {"description": doc, **object_schema(bare, class_rules)} if doc else object_schema(bare, class_rules)
    raise SchemaError(f"cannot express {bare!r} in a CRD schema")


_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
