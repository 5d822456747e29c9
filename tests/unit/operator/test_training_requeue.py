"""The reconciler wakes itself up when the plan asks (a cron tick, a running run), again and again."""

from __future__ import annotations

import asyncio

from sextant_operator.handlers.kube_actions import KubeActions
from sextant_operator.handlers.run_results import RunResults
from sextant_operator.handlers.trainingjob import TrainingReconciler
from sextant_operator.reconcile.training_job_manifest import TrainingSettings


class CountingReconciler(TrainingReconciler):
    def __init__(self, delays: list[float | None]) -> None:
        super().__init__(TrainingSettings(), KubeActions(lambda: None), RunResults(None))
        self.delays, self.calls = delays, 0

    async def reconcile_once(self, namespace: str, name: str) -> float | None:
        self.calls += 1
        return self.delays.pop(0) if self.delays else None


def test_every_requested_wake_up_happens_even_after_an_earlier_one_fired() -> None:
    async def scenario() -> int:
        reconciler = CountingReconciler([0.01, 0.01, 0.01])
        await reconciler.reconcile("ml", "nightly")
        for _ in range(200):  # bounded: at most 2 s
            if reconciler.calls >= 4:
                break
            await asyncio.sleep(0.01)
        return reconciler.calls

    assert asyncio.run(scenario()) == 4
