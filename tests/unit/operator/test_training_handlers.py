"""The TrainingJob handlers are wired to their indexes the way kopf calls them (keywords named by index id)."""

from __future__ import annotations

import asyncio
from typing import Any

from sextant_operator.config import OperatorConfig
from sextant_operator.registry import build_registry


def test_every_training_handler_finds_the_job_and_pod_indexes_kopf_passes_it() -> None:
    registry = build_registry(OperatorConfig(webhook_enabled=False))
    index_ids = sorted(h.id for h in registry._indexing.get_all_handlers())
    assert index_ids == ["training_jobs", "training_pods"]  # not `register_trainingjob_handlers.<locals>.…`
    (changed,) = [h for h in registry._watching.get_all_handlers() if h.id.endswith("trainingjob_changed")]
    indexes: dict[str, Any] = {index_id: {} for index_id in index_ids}  # kopf: one keyword per index, by its id
    # A DELETED event reconciles nothing, so this only checks that the handler reads the indexes it is given.
    asyncio.run(changed.fn(namespace="ml", name="iris", type="DELETED", **indexes))
