"""What the batch scorer tells the operator without exposing data: counts in a store document while it runs,
and its outcome as JSON in the pod's termination message (rows scored, or the rejected row and column)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadRow, ModelLoadError, SchemaMismatch

if TYPE_CHECKING:
    from .batch import Progress

log = logging.getLogger("sextant_services.batch")
#: Exit code for input or a model that cannot be scored: the Job's podFailurePolicy fails the run at once.
PERMANENT_EXIT_CODE = 2
PROGRESS_INTERVAL_SECONDS = 2.0
#: Kubernetes keeps at most 4096 bytes of a termination message.
MAX_MESSAGE = 3500


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """The CamelCase reason and the fix for a scoring failure."""
    if isinstance(exc, BadRow):
        return "BadRow", f"correct or remove row {exc.row} of the input (column {exc.field!r}), then run again"
    if isinstance(exc, SchemaMismatch):
        return "SchemaMismatch", "make the input's columns match the model's feature schema and spec.idColumn"
    if isinstance(exc, ModelLoadError):
        return "ModelLoadFailed", "check spec.model: the version must be registered and its artifact intact"
    if isinstance(exc, FileNotFoundError):
        return "InputNotFound", "check spec.input.uri"
    if isinstance(exc, ValueError):
        return "InvalidInput", "check spec.input and spec.output (URI and format)"
    return "ScorerError", "the run is retried up to spec.backoffLimit times; see the pod's log"


@dataclass
class Reporter:
    """Writes progress (throttled) and the final outcome; a failure to report never fails the scoring."""

    store_uri: str
    progress_key: str | None
    termination_path: Path | None
    output_uri: str
    model_version: int | None = None
    _last: float = field(default=0.0, repr=False)
    _rows: int = field(default=0, repr=False)
    _total: int | None = field(default=None, repr=False)
    _store: Any = field(default=None, repr=False)

    def progress(self, also: Callable[[Progress], None]) -> Callable[[Progress], None]:
        def report(p: Progress) -> None:
            if p.chunks:  # the call before the first chunk only announces the total
                also(p)
            self._rows, self._total = p.rows, p.total_rows
            last = p.total_rows is not None and p.rows >= p.total_rows
            due = time.monotonic() - self._last >= PROGRESS_INTERVAL_SECONDS
            if self.progress_key and (last or p.chunks == 0 or due):
                self._write_progress({"rowsDone": p.rows, "rowsTotal": p.total_rows, "chunks": p.chunks})
        return report

    def _write_progress(self, doc: dict[str, Any]) -> None:
        self._last = time.monotonic()
        try:
            if self._store is None:
                from sextant_contracts.storage import open_store

                self._store = open_store(self.store_uri)
            self._store.write(str(self.progress_key), json.dumps(doc).encode())
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the outcome is in the termination message
            log.warning("cannot write progress to %s: %s", self.progress_key, exc)

    def _terminate(self, doc: dict[str, Any]) -> None:
        if self.termination_path is None:
            return
        if len(doc.get("message", "")) > MAX_MESSAGE:
            doc["message"] = doc["message"][:MAX_MESSAGE] + "..."
        try:
            self.termination_path.write_text(json.dumps(doc))
        except OSError as exc:
            log.warning("cannot write the termination message to %s: %s", self.termination_path, exc)

    def succeeded(self, rows: int, total: int | None) -> int:
        self._terminate({"status": "Succeeded", "rowsDone": rows, "rowsTotal": total if total is not None else rows,
                         "output": self.output_uri, "modelVersion": self.model_version})
        return 0

    def failed(self, exc: BaseException, permanent: bool) -> int:
        if self.progress_key:  # where it stopped, past the throttle
            self._write_progress({"rowsDone": self._rows, "rowsTotal": self._total})
        reason, fix = failure_reason(exc)
        doc: dict[str, Any] = {"status": "Failed", "reason": reason, "message": str(exc), "fix": fix,
                               "rowsDone": self._rows, "rowsTotal": self._total, "modelVersion": self.model_version}
        if isinstance(exc, BadRow):
            doc.update({"row": exc.row, "column": exc.field})
        self._terminate(doc)
        return PERMANENT_EXIT_CODE if permanent else 1
