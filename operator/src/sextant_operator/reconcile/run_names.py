"""Deterministic names, labels and the spec fingerprint that tie a TrainingJob to its runs' Jobs and pods."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GROUP_PREFIX = "ml.sextant.io"
LABEL_TRAININGJOB = f"{GROUP_PREFIX}/trainingjob"
LABEL_RUN = f"{GROUP_PREFIX}/run"
LABEL_ROLE = f"{GROUP_PREFIX}/role"
LABEL_CAUSE = f"{GROUP_PREFIX}/cause"
LABEL_GENERATION = f"{GROUP_PREFIX}/generation"
LABEL_SPEC_HASH = f"{GROUP_PREFIX}/spec-hash"
MANAGED_BY = ("app.kubernetes.io/managed-by", "sextant-operator")
ROLE_TRAIN = "train"
ROLE_TRIALS = "trials"
#: Fields that change how a run is held or kept, not what it trains: editing them starts no new run.
NOT_TRAINING_FIELDS = frozenset({"suspend", "schedule", "ttlSecondsAfterFinished"})
MAX_NAME = 63  # a Job's name becomes its pods' job-name label value


def training_fingerprint(spec: Mapping[str, Any]) -> str:
    """A short hash of what a run trains: equal specs (up to suspend/schedule/ttl) train the same thing."""
    relevant = {k: v for k, v in spec.items() if k not in NOT_TRAINING_FIELDS}
    digest = hashlib.sha256(json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return digest[:16]


def _bounded(base: str, suffix: str) -> str:
    """`base-suffix`, shortened with a hash of base when it would pass 63 characters (the Job name limit)."""
    name = f"{base}-{suffix}"
    if len(name) <= MAX_NAME - len("-trials"):
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:6]
    keep = MAX_NAME - len("-trials") - len(suffix) - len(digest) - 2
    return f"{base[:keep].rstrip('-')}-{digest}-{suffix}"


def spec_run_name(trainingjob: str, generation: int) -> str:
    """The run started by spec generation `generation` (create, edit or trigger)."""
    return _bounded(trainingjob, f"g{generation}")


def scheduled_run_name(trainingjob: str, tick_epoch_seconds: int) -> str:
    """The run started by the cron tick at that time (minute precision, like CronJob's names)."""
    return _bounded(trainingjob, f"s{tick_epoch_seconds // 60}")


def trials_job_name(run: str) -> str:
    """The Indexed Job evaluating the run's tuning trials in shards."""
    return f"{run}-trials"


def run_labels(trainingjob: str, run: str, role: str) -> dict[str, str]:
    """Labels on a run's Jobs and pods: the kopf indexes and `kubectl get pods -l` select by them."""
    return {LABEL_TRAININGJOB: trainingjob, LABEL_RUN: run, LABEL_ROLE: role, MANAGED_BY[0]: MANAGED_BY[1]}
