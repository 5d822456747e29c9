"""BatchPrediction runs on the real control plane: an operator killed with SIGKILL finds its run again without a
second Job, and a cron schedule starts its tick's run (Replace stops the run still going)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.polling import eventually
from tests.support.serving_models import register_iris
from tests.support.sextant_fixtures import start_sextant, stop_sextant
from tests.support.sextant_operator import error_lines, forbidden_lines


def _apply(cluster: Any, namespace: str, name: str, **spec: Any) -> None:
    body = {"model": {"name": "iris", "alias": "production"}, "input": {"uri": "s3://sextant/data/in.csv"},
            "output": {"uri": "s3://sextant/out/pred.csv"}, "idColumn": "id", **spec}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "ml.sextant.io/v1alpha1", "kind": "BatchPrediction", "metadata": {"name": name}, "spec": body}))


def _jobs(cluster: Any, namespace: str) -> list[str]:
    return sorted(cluster.kubectl("get", "jobs", "-n", namespace, "-l", "ml.sextant.io/batchprediction",
                                  "-o", "jsonpath={.items[*].metadata.name}").stdout.split())


def _runs(cluster: Any, namespace: str, name: str) -> dict[str, str]:
    body = json.loads(cluster.kubectl("get", "sxbp", name, "-n", namespace, "-o", "json").stdout)
    return {r["name"]: r["phase"] for r in (body.get("status") or {}).get("runs") or []}


def test_a_restarted_operator_finds_its_run_and_a_schedule_replaces_it_at_the_tick(
        cluster: Any, crds: None, namespace: str, tmp_path: Path) -> None:
    register_iris(tmp_path / "store")
    operator, hook = start_sextant(cluster, namespace, tmp_path, webhook=False,
                                   env={"SEXTANT_STORE_URI": (tmp_path / "store").as_uri()})
    try:
        _apply(cluster, namespace, "nightly", suspend=True)  # held: its pod never starts, the run stays going
        eventually(lambda: _jobs(cluster, namespace) == ["nightly-g1"], timeout=60, what="the first run's Job")
        assert operator.kill() == -9
        operator.start()
        eventually(lambda: _runs(cluster, namespace, "nightly") == {"nightly-g1": "Suspended"}, timeout=60,
                   what="the run found again, suspended")
        assert _jobs(cluster, namespace) == ["nightly-g1"]  # no second Job for the same run

        _apply(cluster, namespace, "nightly", schedule={"cron": "* * * * *", "concurrencyPolicy": "Replace"})
        runs = eventually(lambda: len(r := _runs(cluster, namespace, "nightly")) == 2 and r, timeout=120,
                          interval=2, what="the tick's run")
        (tick,) = [n for n in runs if n.startswith("nightly-s")]
        assert runs["nightly-g1"] == "Stopped"
        eventually(lambda: _jobs(cluster, namespace) == [tick], timeout=60, what="the stopped run's Job deleted")
        logs = operator.logs()
        assert error_lines(logs) == [] and forbidden_lines(logs) == []
    finally:
        stop_sextant(cluster, namespace, operator, hook)
