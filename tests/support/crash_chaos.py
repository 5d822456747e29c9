"""Crash-safety chaos for the TrainingJob operator: users create, edit, suspend and delete TrainingJobs while the
operator is SIGKILLed at random moments; then every run is counted.

Pods go to kwok's fake nodes (`spec.scheduling`), where a Job's pod runs and completes at once (kwok's
`pod-complete` stage) but no trainer runs. The harness plays the trainer's one part the operator reads: for each
run it writes the result document `runs/<run>/result.json` into a file store the operator is given
(`SEXTANT_STORE_URI`), as `sextant-train` does at its end. So a run can reach `Succeeded` from kwok, and the
expected state of every surviving TrainingJob is exact:

- `status.observedGeneration` is its `metadata.generation` and `status.run.id` is `<name>-g<G>`, where G is the
  generation of the last edit that changed what it trains, or a later one reached by suspend edits only (those
  start no run, but a run starts under the generation the operator first sees: a TrainingJob suspended and
  resumed while the operator was down starts `<name>-g3`);
- exactly one Job exists for that run;
- phase `Succeeded` with `status.model.version` == G (the version the result document names), or `Suspended`
  with the Job suspended when spec.suspend is true and the run never ran unsuspended (if it could have, either);
- every other run in `status.runs` is finished (Succeeded or Stopped) and no Job of a Stopped run is left.

Figures: duplicated runs (a Job name created more than once, from a watch: `JobRecorder`), lost TrainingJobs
(not in the expected state within the deadline, with the reason), orphans (Jobs of deleted TrainingJobs left
after the garbage collector's turn) and stale Jobs (Jobs of runs that are not the current one or a kept
success). The random moments come from a seeded RNG; pauses between operations (users' think time) and before
each kill (to land at different points of the operator's work) are random on purpose, not waits for a state.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from sextant_contracts.storage import FileStore
from sextant_devcluster.nodes import FAKE_NODE_SELECTOR, FAKE_NODE_TOLERATION
from sextant_operator.reconcile.run_names import LABEL_RUN, LABEL_TRAININGJOB, spec_run_name
from tests.support.job_watch import JobRecorder
from tests.support.polling import eventually
from tests.support.sextant_operator import OperatorProcess, error_lines

GROUP, VERSION, PLURAL = "ml.sextant.io", "v1alpha1", "trainingjobs"
FINISHED = frozenset({"Succeeded", "Stopped"})


@dataclass(frozen=True)
class ChaosSettings:
    """How many TrainingJobs, which share of them is edited, suspended, resumed, deleted; how many kills."""

    trainingjobs: int = 20
    kills: int = 3
    seed: int = 20261202
    edit_share: float = 0.4  # edited once (a fifth of those twice): the old run stops, a new one starts
    suspended_share: float = 0.2  # created suspended ...
    resume_share: float = 0.5  # ... of which this share is resumed later
    pause_share: float = 0.1  # suspended after creation
    delete_share: float = 0.15
    think_seconds: float = 0.1  # mean pause between two operations (exponential)
    kill_jitter_seconds: float = 1.5  # a kill comes up to this long after its operation
    max_ops_while_down: int = 3
    converge_seconds: float = 90.0
    prefix: str = "chaos"


@dataclass
class Tracked:
    """What the harness did to one TrainingJob, hence what its state must become."""

    name: str
    generation: int = 1
    run_generation: int = 1
    suspended: bool = False
    may_have_run: bool = True  # the current run's Job could have been unsuspended at some point
    deleted: bool = False
    max_iter: int = 100

    @property
    def runs(self) -> dict[str, int]:
        """The run names the current spec may run under (see the module docstring), with their generations."""
        return {spec_run_name(self.name, g): g for g in range(self.run_generation, self.generation + 1)}


@dataclass(frozen=True)
class Op:
    key: float
    kind: str  # create, edit, suspend, resume, delete
    index: int


@dataclass
class ChaosFigures:
    """What one chaos run measured; `ok` when nothing was duplicated, lost, orphaned or left stale."""

    settings: dict[str, Any]
    operations: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    kill_times: list[float] = field(default_factory=list)  # seconds after the first operation
    jobs_created: int = 0
    duplicated_runs: dict[str, int] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    stale_jobs: list[str] = field(default_factory=list)
    surviving: int = 0
    seconds_operating: float = 0.0
    seconds_to_converge: float = 0.0
    operator_error_lines: int = 0

    @property
    def ok(self) -> bool:
        return not (self.duplicated_runs or self.lost or self.orphans or self.stale_jobs)

    def table(self) -> list[str]:
        rows = [("TrainingJobs (surviving)", f"{self.settings['trainingjobs']} ({self.surviving})"),
                ("operations", ", ".join(f"{k} {v}" for k, v in self.operations.items())),
                ("SIGKILLs (seconds into the run)", f"{self.kills} ({', '.join(f'{t:.1f}' for t in self.kill_times)})"),
                ("Jobs created", str(self.jobs_created)),
                ("duplicated runs", str(len(self.duplicated_runs))), ("lost TrainingJobs", str(len(self.lost))),
                ("orphaned Jobs", str(len(self.orphans))), ("stale Jobs", str(len(self.stale_jobs))),
                ("seconds operating / converging after", f"{self.seconds_operating:.1f} / "
                                                          f"{self.seconds_to_converge:.1f}"),
                ("operator ERROR lines", str(self.operator_error_lines))]
        return ["| figure | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]


def kwok_trainingjob(name: str, max_iter: int, suspend: bool) -> dict[str, Any]:
    """A small TrainingJob whose pods go to kwok's fake nodes."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
        "spec": {"task": "classification", "dataset": {"uri": "builtin:iris", "target": "target"},
                 "estimator": {"algorithm": "logistic_regression", "params": {"max_iter": max_iter}},
                 "model": {"name": name}, "suspend": suspend,
                 "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                 "scheduling": {"tolerations": [dict(FAKE_NODE_TOLERATION)], "nodeSelector": dict(FAKE_NODE_SELECTOR)}},
    }


def write_result(store: FileStore, trainingjob: str, run: str, version: int) -> None:
    """The result document `sextant-train` writes at the end of a successful run, for a run kwok "runs"."""
    doc = {"status": "Succeeded", "runId": run, "objective": "accuracy", "accepted": True,
           "best": {"algorithm": "logistic_regression", "params": {}}, "metrics": {"accuracy": 0.97},
           "model": {"name": trainingjob, "version": version, "digest": "sha256:00",
                     "uri": f"file:///models/{trainingjob}/{version}"}}
    store.write(f"runs/{run}/result.json", json.dumps(doc).encode())


class CrashChaos:
    """One chaos run against one namespace and one operator process (started; this restarts it after kills)."""

    def __init__(self, api_client: Any, namespace: str, operator: OperatorProcess, store_dir: Path,
                 settings: ChaosSettings) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.namespace, self.operator, self.settings = namespace, operator, settings
        self.store = FileStore(store_dir)
        self.rng = random.Random(settings.seed)  # noqa: S311 - reproducible chaos, not secrets
        self.recorder = JobRecorder(api_client, namespace)
        self.tracked = [Tracked(f"{settings.prefix}-{i:03d}") for i in range(settings.trainingjobs)]
        self.figures = ChaosFigures(settings=asdict(settings))

    # The scenario: every TrainingJob is created; some get follow-ups at random later positions.
    def schedule(self) -> list[Op]:
        s, rng, n = self.settings, self.rng, self.settings.trainingjobs
        ops = [Op(float(i), "create", i) for i in range(n)]
        for i, tracked in enumerate(self.tracked):
            tracked.suspended = rng.random() < s.suspended_share
            tracked.may_have_run = not tracked.suspended
            follow: list[str] = []
            if rng.random() < s.edit_share:
                follow += ["edit"] * (2 if rng.random() < 0.2 else 1)
            if tracked.suspended and rng.random() < s.resume_share:
                follow.append("resume")
            elif not tracked.suspended and rng.random() < s.pause_share:
                follow.append("suspend")
            keys = sorted(rng.uniform(i + 0.5, n * 1.5) for _ in follow)
            ops += [Op(k, kind, i) for k, kind in zip(keys, rng.sample(follow, len(follow)), strict=True)]
            if rng.random() < s.delete_share:
                ops.append(Op(max([i + 0.5, *keys]) + rng.uniform(0.1, n * 0.5), "delete", i))
        return sorted(ops, key=lambda op: op.key)

    def _patch(self, tracked: Tracked, spec: dict[str, Any]) -> None:
        body = self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, tracked.name,
                                                          {"spec": spec})
        tracked.generation = int(body["metadata"]["generation"])

    def apply(self, op: Op) -> None:
        tracked = self.tracked[op.index]
        if op.kind == "create":
            self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, kwok_trainingjob(
                tracked.name, tracked.max_iter, tracked.suspended))
        elif op.kind == "edit":
            tracked.max_iter += 1
            self._patch(tracked, {"estimator": {"params": {"max_iter": tracked.max_iter}}})
            tracked.run_generation, tracked.may_have_run = tracked.generation, not tracked.suspended
        elif op.kind in ("suspend", "resume"):
            tracked.suspended = op.kind == "suspend"
            tracked.may_have_run = tracked.may_have_run or not tracked.suspended
            self._patch(tracked, {"suspend": tracked.suspended})
        elif op.kind == "delete":
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, tracked.name)
            tracked.deleted = True
        if op.kind != "delete":  # the result of a run under this generation, should one start (kwok "trains")
            write_result(self.store, tracked.name, spec_run_name(tracked.name, tracked.generation), tracked.generation)
        self.figures.operations[op.kind] = self.figures.operations.get(op.kind, 0) + 1

    def run(self) -> ChaosFigures:
        """Operate with kills, restart the operator, wait (bounded) for the expected states, count."""
        s, rng = self.settings, self.rng
        ops = self.schedule()
        kills = sorted((rng.randint(0, len(ops)), rng.uniform(0, s.kill_jitter_seconds),
                        rng.randint(0, s.max_ops_while_down)) for _ in range(s.kills))
        self.recorder.start()
        started, restart_at = time.monotonic(), -1
        try:
            for position in range(len(ops) + 1):
                for at, jitter, down_for in kills:
                    if at != position:
                        continue
                    if not self._up():
                        self.operator.start()
                    time.sleep(jitter)  # chaos: land the kill at a different point of the operator's work
                    self.operator.kill()
                    self.figures.kill_times.append(time.monotonic() - started)
                    restart_at = position + down_for
                if not self._up() and position >= restart_at:
                    self.operator.start()
                if position < len(ops):
                    self.apply(ops[position])
                    time.sleep(min(rng.expovariate(1 / s.think_seconds), 5 * s.think_seconds))  # think time
            if not self._up():
                self.operator.start()
            self.figures.kills = len(self.figures.kill_times)
            self.figures.seconds_operating = time.monotonic() - started
            converging = time.monotonic()
            self._converge()
            self.figures.seconds_to_converge = time.monotonic() - converging
        finally:
            self.recorder.stop()
        self.figures.jobs_created = len(self.recorder.jobs())
        self.figures.duplicated_runs = self.recorder.duplicated_runs()
        self.figures.operator_error_lines = len(error_lines(self.operator.logs()))
        return self.figures

    def _up(self) -> bool:
        return self.operator.proc is not None and self.operator.proc.poll() is None

    def _converge(self) -> None:
        try:
            eventually(self._converged, timeout=self.settings.converge_seconds, interval=0.5,
                       what="every TrainingJob in its expected state")
        except AssertionError:
            pass  # the figures name what is lost, orphaned or stale

    def _converged(self) -> bool:
        self._judge()
        return not (self.figures.lost or self.figures.orphans or self.figures.stale_jobs)

    def _judge(self) -> None:
        """Compare what exists now with what is expected; fill lost, orphans and stale_jobs."""
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)["items"]
        trainingjobs = {tj["metadata"]["name"]: tj for tj in items}
        jobs = [j for j in self.batch.list_namespaced_job(self.namespace, label_selector=LABEL_TRAININGJOB).items
                if not j.metadata.deletion_timestamp]
        by_owner: dict[str, list[Any]] = {}
        for job in jobs:
            by_owner.setdefault(job.metadata.labels[LABEL_TRAININGJOB], []).append(job)
        lost, stale, orphans = {}, [], []
        for tracked in self.tracked:
            owned = by_owner.get(tracked.name, [])
            if tracked.deleted:
                orphans += [j.metadata.name for j in owned]
                continue
            problem, leftovers = expected_state_problem(tracked, trainingjobs.get(tracked.name), owned)
            if problem:
                lost[tracked.name] = problem
            stale += leftovers
        self.figures.lost, self.figures.stale_jobs, self.figures.orphans = lost, stale, orphans
        self.figures.surviving = sum(not t.deleted for t in self.tracked)


def expected_state_problem(tracked: Tracked, tj: dict[str, Any] | None, jobs: list[Any]) -> tuple[str, list[str]]:
    """What differs from the expected state ("" when nothing), and the Jobs of runs that should have none."""
    if tj is None:
        return "the TrainingJob is gone", []
    status = tj.get("status") or {}
    runs = {r["name"]: r for r in status.get("runs") or []}
    run = str((status.get("run") or {}).get("id"))
    kept = {name for name, r in runs.items() if r.get("phase") == "Succeeded"} | {run}
    stale = [j.metadata.name for j in jobs if j.metadata.labels.get(LABEL_RUN) not in kept]
    current = [j for j in jobs if j.metadata.labels.get(LABEL_RUN) == run]
    phase = status.get("phase")
    if tj["metadata"]["generation"] != tracked.generation:
        return f"generation {tj['metadata']['generation']}, expected {tracked.generation}", stale
    if status.get("observedGeneration") != tracked.generation:
        return f"observedGeneration {status.get('observedGeneration')} of {tracked.generation}", stale
    if run not in tracked.runs:
        return f"status.run.id {run}, expected one of {sorted(tracked.runs)}", stale
    if len(current) != 1:
        return f"{len(current)} Jobs for run {run}", stale
    going = [name for name, r in runs.items() if name != run and r.get("phase") not in FINISHED]
    if going:
        return f"older runs still going: {going}", stale
    suspended_job = bool(current[0].spec.suspend)
    if tracked.suspended and not tracked.may_have_run:
        ok = phase == "Suspended" and suspended_job
    elif tracked.suspended:
        ok = (phase == "Suspended" and suspended_job) or phase == "Succeeded"
    else:
        ok = phase == "Succeeded" and str((status.get("model") or {}).get("version")) == str(tracked.runs[run])
    if not ok:
        return (f"phase {phase} ({status.get('reason')}: {status.get('message')}), Job suspended={suspended_job}, "
                f"model {status.get('model')}; expected suspended={tracked.suspended}"), stale
    return "", stale
