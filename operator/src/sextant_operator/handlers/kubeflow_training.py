"""The kubeflow backend of TrainingJobs: observe its KFP runs, plan (reconcile/kubeflow_runs.py), act.

Status is written before a run is created and a superseded run is recorded Stopped before it is terminated, so
an operator killed between the two finds, on its next pass, a recorded run KFP does not have (created then) or a
KFP run status does not hold (adopted, never duplicated). KFP errors become a condition and a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from ..kubeflow.api import KubeflowApi, KubeflowUnavailable
from ..reconcile.conditions import now_rfc3339
from ..reconcile.kubeflow_runs import (
    KFP_TERMINAL,
    KfpRunView,
    KubeflowObserved,
    KubeflowPlan,
    kubeflow_results_to_read,
    plan_kubeflow,
)
from ..reconcile.transitions import status_changes, transition_events
from .keyed_reconciler import Key
from .kube_actions import KubeActions
from .run_results import RunResults

log = logging.getLogger("sextant.operator.kubeflow")


async def write_status(actions: KubeActions, body: Mapping[str, Any], desired: Mapping[str, Any],
                       owned: frozenset[str]) -> dict[str, Any]:
    """Patch the owned status fields that changed (none: no patch), emit transition Events; the body after it."""
    meta, current = body["metadata"], body.get("status") or {}
    changes = status_changes(current, desired, owned)
    written = bool(changes) and await asyncio.to_thread(actions.patch_status, meta["namespace"], meta["name"],
                                                        changes)
    if written:  # not when the TrainingJob was deleted since it was read
        for event in transition_events(current, desired):
            kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
    return {**body, "status": {**current, **desired}}


class KubeflowTraining:
    """One pass for a TrainingJob on the kubeflow backend; counts consecutive KFP failures per object."""

    def __init__(self, api: KubeflowApi, actions: KubeActions, results: RunResults, store_uri: str,
                 owned: frozenset[str]) -> None:
        self.api, self.actions, self.results, self.store_uri, self.owned = api, actions, results, store_uri, owned
        self._failures: dict[Key, int] = {}

    def _plan(self, body: Mapping[str, Any], runs: list[KfpRunView], error: str | None, key: Key,
              results: Mapping[str, Mapping[str, Any]]) -> KubeflowPlan:
        failures = self._failures[key] = self._failures.get(key, 0) + 1 if error else 0
        observed = KubeflowObserved(body, runs, results, now_rfc3339(), error, failures, self.api.settings.link_base)
        return plan_kubeflow(observed, self.store_uri)

    async def reconcile(self, body: Mapping[str, Any]) -> float | None:
        """Observe, plan, write status, create or terminate runs; seconds until the next look."""
        meta = body["metadata"]
        key: Key = (meta["namespace"], meta["name"])
        runs: list[KfpRunView] = []
        error: str | None = None
        try:
            runs = await asyncio.to_thread(self.api.runs_of, meta["uid"])
        except KubeflowUnavailable as exc:
            error = str(exc)
        results: dict[str, Mapping[str, Any]] = {}
        for name in kubeflow_results_to_read(body, runs):
            document = await asyncio.to_thread(self.results.read, name)
            if document is not None:
                results[name] = document
        plan = self._plan(body, runs, error, key, results)
        body = await write_status(self.actions, body, plan.status, self.owned)
        if error is not None:
            log.warning("TrainingJob %s/%s: %s; trying again in %.0f s", *key, error, plan.requeue_after or 0)
            return plan.requeue_after
        try:
            await self._act(key, plan)
        except KubeflowUnavailable as exc:
            plan = self._plan(body, runs, str(exc), key, results)
            await write_status(self.actions, body, plan.status, self.owned)
            log.warning("TrainingJob %s/%s: %s; trying again in %.0f s", *key, exc, plan.requeue_after or 0)
        return plan.requeue_after

    async def _act(self, key: Key, plan: KubeflowPlan) -> None:
        for run_id in plan.terminate:
            await asyncio.to_thread(self.api.terminate, run_id)
            log.info("TrainingJob %s/%s: terminated superseded Kubeflow run %s", *key, run_id)
        if plan.create is not None:
            run = await asyncio.to_thread(self.api.create_run, plan.create)
            log.info("TrainingJob %s/%s: created Kubeflow run %s (%s)", *key, run.id, run.display_name)

    async def terminate_all(self, body: Mapping[str, Any]) -> None:
        """Terminate every unfinished run of a TrainingJob being deleted. Raises KubeflowUnavailable."""
        meta = body["metadata"]
        for run in await asyncio.to_thread(self.api.runs_of, meta["uid"]):
            if run.state not in KFP_TERMINAL:
                await asyncio.to_thread(self.api.terminate, run.id)
                log.info("TrainingJob %s/%s deleted: terminated Kubeflow run %s", meta["namespace"], meta["name"],
                         run.id)
        self._failures.pop((meta["namespace"], meta["name"]), None)
