"""What an InferenceService's `spec.batching` becomes in the model server's environment: one mapping, one meaning.

The operator writes these variables into a variant's pods; the server (`sextant_services.settings`) reads them
with the defaults declared here, which are the CRD's defaults: a value means the same thing in both places.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any

from .resources.fields import Field
from .resources.inferenceservice import Batching

BATCHING_ENV: Mapping[str, str] = {
    "enabled": "SEXTANT_BATCHING",
    "maxBatchSize": "SEXTANT_MAX_BATCH_SIZE",
    "maxLatencyMs": "SEXTANT_MAX_LATENCY_MS",
}


@functools.cache
def _batching_hints() -> dict[str, Any]:
    """Batching's annotations, resolved once: get_type_hints evaluates them, and every InferenceService pass asks
    (2 s of the operator's CPU when 1,000 were created)."""
    return typing.get_type_hints(Batching, include_extras=True)


def batching_default(key: str) -> Any:
    """The CRD default of `spec.batching.<key>`; raises KeyError naming the key when Batching has no such field."""
    hints = _batching_hints()
    if key not in hints:
        raise KeyError(f"spec.batching has no field {key!r}; known: {', '.join(sorted(hints))}")
    fields = [m for m in getattr(hints[key], "__metadata__", ()) if isinstance(m, Field)]
    return fields[0].default if fields else None


def batching_env(batching: Mapping[str, Any] | None) -> dict[str, str]:
    """The SEXTANT_* variables for `spec.batching` (absent keys take the CRD default), as strings."""
    given = dict(batching or {})
    out: dict[str, str] = {}
    for key, env_name in BATCHING_ENV.items():
        value = given.get(key, batching_default(key))
        out[env_name] = ("true" if value else "false") if isinstance(value, bool) else str(int(value))
    return out
