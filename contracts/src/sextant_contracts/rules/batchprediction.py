"""Every rule a BatchPrediction spec must meet, in one place: the admission webhook and the operator apply it.

`check_batchprediction_spec` fills in the CRD's defaults and applies the CRD's structural schema (the one
generated from the typed models) and the Python twins of its CEL rules, so a spec it accepts is one the API
server admits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ..resources import batchprediction
from ..resources.crd import BATCHPREDICTION, openapi_schema
from ..resources.fields import Rule
from .structural import Schema, Violation, violations, with_defaults

__all__ = ["Violation", "batchprediction_spec_schema", "check_batchprediction_spec", "rules_by_text",
           "validate_batchprediction"]


@functools.cache
def batchprediction_spec_schema() -> Schema:
    """The OpenAPI schema of BatchPrediction.spec, exactly as in the CRD."""
    return openapi_schema(BATCHPREDICTION)["properties"]["spec"]  # type: ignore[no-any-return]


@functools.cache
def rules_by_text() -> dict[str, Rule]:
    """Every CEL rule of the BatchPrediction CRD by its text, with its Python twin."""
    groups = (*batchprediction.CLASS_RULES.values(), batchprediction.BATCHPREDICTION_SPEC_RULES)
    return {rule.rule: rule for group in groups for rule in group}


def check_batchprediction_spec(spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[Violation]]:
    """The defaulted spec and every way it breaks the schema or a CEL rule (empty when acceptable)."""
    schema = batchprediction_spec_schema()
    defaulted = with_defaults(schema, dict(spec)) if isinstance(spec, Mapping) else spec
    return defaulted, violations(schema, defaulted, "spec", rules_by_text())


def validate_batchprediction(spec: Mapping[str, Any]) -> list[Violation]:
    """Every violation in a BatchPrediction spec (empty when the spec is acceptable)."""
    return check_batchprediction_spec(spec)[1]
