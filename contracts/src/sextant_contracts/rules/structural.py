"""The CRD's structural schema applied in Python as the API server applies it: defaults, types, bounds, rules.

The schema is the one generated from the typed models (so it cannot differ from the CRD); each CEL rule is
evaluated through the Python twin (`Rule.check`) that sits beside it in the model.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..resources.fields import Rule

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    """One rejected field: its path (as the API server names it) and what is wrong with it, with the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def with_defaults(schema: Schema, doc: Any) -> Any:
    """A copy of doc with the schema's defaults filled in where keys are missing (nested objects included)."""
    if isinstance(doc, dict):
        out = {}
        props = schema.get("properties") or {}
        for key, value in doc.items():
            sub = props.get(key) or schema.get("additionalProperties")
            out[key] = with_defaults(sub, value) if isinstance(sub, Mapping) else copy.deepcopy(value)
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = with_defaults(sub, copy.deepcopy(sub["default"]))
        return out
    if isinstance(doc, list) and isinstance(schema.get("items"), Mapping):
        return [with_defaults(schema["items"], item) for item in doc]
    return copy.deepcopy(doc)


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,),
}


def _type_ok(schema: Schema, value: Any) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    kind = schema.get("type")
    if kind is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _TYPES[kind])


def _scalar_violations(schema: Schema, value: Any, path: str) -> Iterator[Violation]:
    if "enum" in schema and value not in schema["enum"]:
        yield Violation(path, f"Unsupported value: {value!r}: supported values: "
                        f"{', '.join(repr(v) for v in schema['enum'])}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and (value <= low if schema.get("exclusiveMinimum") else value < low):
            yield Violation(path, f"Invalid value: {value!r}: should be greater than "
                            f"{'' if schema.get('exclusiveMinimum') else 'or equal to '}{low}")
        if high is not None and value > high:
            yield Violation(path, f"Invalid value: {value!r}: should be less than or equal to {high}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            what = f" ({schema['description']})" if schema.get("description") else ""
            yield Violation(path, f"Invalid value: {value!r}: should match '{schema['pattern']}'{what}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield Violation(path, f"Too long: may not be more than {schema['maxLength']} characters")
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield Violation(path, f"Invalid value: {value!r}: should be at least {schema['minLength']} chars long")


def _array_violations(schema: Schema, value: list[Any], path: Path, rules: Mapping[str, Rule]) -> Iterator[Violation]:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        yield Violation(path.schema, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield Violation(path.schema, f"Invalid value: {len(value)}: should have at least {schema['minItems']} items")
    if schema.get("x-kubernetes-list-type") == "set":
        for i, item in enumerate(value):
            if item in value[:i]:
                yield Violation(path.item(i).schema, f"Duplicate value: {item!r}")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            yield from _violations(items, item, path.item(i), rules)


def _object_violations(schema: Schema, value: dict[str, Any], path: Path, rules: Mapping[str, Rule]
                       ) -> Iterator[Violation]:
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        yield Violation(path.schema, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items")
    for key in schema.get("required") or []:
        if key not in value:
            yield Violation(path.field(key).schema, "Required value")
    props, extra = schema.get("properties"), schema.get("additionalProperties")
    for key, item in value.items():
        if props is not None and key in props:
            yield from _violations(props[key], item, path.field(key), rules)
        elif isinstance(extra, Mapping):
            yield from _violations(extra, item, path.entry(key), rules)
        elif props is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
            yield Violation(path.field(key).schema, f'field not declared in schema (unknown field "{key}")')


@dataclass(frozen=True)
class Path:
    """Where a value is, named as the API server names it: schema errors write a map entry as `.key`, CEL
    errors as `[key]` (spec.resources.requests.memory, spec.tuning.searchSpace[max_depth].min)."""

    schema: str
    cel: str

    def field(self, name: str) -> Path:
        return Path(f"{self.schema}.{name}", f"{self.cel}.{name}")

    def entry(self, key: str) -> Path:
        return Path(f"{self.schema}.{key}", f"{self.cel}[{key}]")

    def item(self, index: int) -> Path:
        return Path(f"{self.schema}[{index}]", f"{self.cel}[{index}]")


def violations(schema: Schema, value: Any, path: str, rules: Mapping[str, Rule]) -> list[Violation]:
    """Every way value breaks schema; CEL rules are evaluated by their Python twins, found by rule text."""
    return list(_violations(schema, value, Path(path, path), rules))


def _violations(schema: Schema, value: Any, path: Path, rules: Mapping[str, Rule]) -> Iterator[Violation]:
    if not _type_ok(schema, value):
        expected = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        yield Violation(path.schema, f"Invalid value: {value!r}: must be of type {expected}")
        return
    found = list(_scalar_violations(schema, value, path.schema))
    if isinstance(value, list):
        found += _array_violations(schema, value, path, rules)
    if isinstance(value, dict):
        found += _object_violations(schema, value, path, rules)
    yield from found
    if found:
        return  # the rules of an object assume its fields are well-formed
    for entry in schema.get("x-kubernetes-validations") or []:
        if not _rule_holds(rules.get(entry["rule"]), value):
            yield Violation(path.cel + entry.get("fieldPath", ""), entry["message"])


def _rule_holds(rule: Rule | None, value: Any) -> bool:
    if rule is None or rule.check is None:
        return True  # a rule without a Python twin is left to the API server (a unit test lists them)
    try:
        return bool(rule.check(value))
    except (KeyError, TypeError, ValueError):
        return False  # as a CEL rule that errors: the object is refused
