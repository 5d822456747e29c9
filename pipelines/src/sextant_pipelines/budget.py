"""The AutoML time budget as the user's wall time: one deadline for ingest to registration, and what each
decision (start a trial, run one more fold, build an ensemble, refit on all rows) may still spend of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What follows the search and is not a fit: holdout predictions, the BentoML model written and hashed, the
# manifest and the result document (0.3-1 s on a loaded 2-core machine once BentoML is imported, which the
# flow does before the search; grows a little with the model's size).
TAIL_SECONDS = 1.0
TAIL_FRACTION = 0.04
REGISTER_SHARE = 0.4  # of the tail, what is left once the holdout is scored
# A refit on all training rows costs about one CV fold times folds/(folds-1) (more rows); a margin on top.
REFIT_MARGIN = 1.3


@dataclass
class RunClock:
    """A monotonic deadline: `total_s` after `started` (None: no deadline)."""

    total_s: float | None
    started: float = field(default_factory=time.monotonic)
    now: Callable[[], float] = time.monotonic

    @property
    def deadline(self) -> float:
        return float("inf") if self.total_s is None else self.started + self.total_s

    def remaining(self) -> float:
        return self.deadline - self.now()

    def elapsed(self) -> float:
        return self.now() - self.started

    def tail_seconds(self, evaluated: bool = False) -> float:
        """Time to keep for evaluation and registration (only registration once `evaluated`), which cannot be
        stopped once started."""
        if self.total_s is None:
            return 0.0
        whole = TAIL_SECONDS + TAIL_FRACTION * self.total_s
        return whole * REGISTER_SHARE if evaluated else whole


def refit_seconds(trial_seconds: float, folds: int, fits: int = 1) -> float:
    """Expected cost of `fits` refits of a configuration whose `folds`-fold CV took `trial_seconds`."""
    per_fold = trial_seconds / max(folds, 1)
    return fits * REFIT_MARGIN * per_fold * folds / max(folds - 1, 1)


class SearchBudget:
    """What the search may spend: up to the run's deadline, less the tail and the refits of the best so far.

    `affords(algorithm)` says whether one more trial of an algorithm (at its learnt cost) still fits; the fold
    hook of cross-validation asks `fold_fits(seconds)` before each fold so a trial that cannot finish stops.
    """

    def __init__(self, clock: RunClock, folds: int, refits: int = 1, weights: dict[str, float] | None = None) -> None:
        self.clock, self.folds, self.refits = clock, folds, refits
        self.cost: dict[str, float] = {}
        self.weights = weights or {}  # relative costs (the catalogue's at these rows), for algorithms not tried yet
        self.best_refit = 0.0

    @property
    def started(self) -> float:
        return self.clock.started

    def search_deadline(self) -> float:
        return self.clock.deadline - self.clock.tail_seconds() - self.best_refit

    def affords(self, algorithm: str, parallel: int = 1) -> bool:
        expected = self.fold_estimate(algorithm) * self.folds
        return self.clock.now() + expected / parallel < self.search_deadline()

    def fold_fits(self, seconds: float) -> bool:
        return self.clock.now() + seconds < self.search_deadline()

    def expired(self) -> bool:
        return self.clock.now() >= self.search_deadline()

    def learn(self, algorithm: str, seconds: float, complete: bool) -> None:
        """Remember what a trial of the algorithm cost (a recent cheap trial halves a costly estimate)."""
        if complete:
            self.cost[algorithm] = max(self.cost.get(algorithm, 0.0) * 0.5, seconds)

    def keep_refit_of(self, trial_seconds: float) -> None:
        """Reserve what refitting the best model will cost (every refit the run does), from its CV seconds."""
        self.reserve(refit_seconds(trial_seconds, self.folds, self.refits))

    def reserve(self, seconds: float) -> None:
        """Keep `seconds` for the final fits out of the search's time."""
        self.best_refit = seconds

    def fold_estimate(self, algorithm: str) -> float:
        """Expected seconds of one fold: learnt, or for an algorithm not tried yet the costliest learnt one
        scaled by the relative weights (0 when nothing is known yet)."""
        if algorithm in self.cost:
            return self.cost[algorithm] / max(self.folds, 1)
        if not self.cost:
            return 0.0
        known = max(self.cost, key=lambda a: self.cost[a])
        ratio = self.weights.get(algorithm, 1.0) / max(self.weights.get(known, 1.0), 1.0)
        return self.cost[known] * max(ratio, 1.0) / max(self.folds, 1)
