"""Reads the trainer's result documents from the artifact store (the operator's own keys, never a Secret)."""

from __future__ import annotations

import json
import logging
from typing import Any

from sextant_contracts.errors import ContractError, ObjectNotFound
from sextant_contracts.storage import ArtifactStore, open_store

log = logging.getLogger("sextant.operator.results")


class RunResults:
    """`runs/<run>/result.json` of a training run, as the trainer wrote it at the end."""

    def __init__(self, store_uri: str | None) -> None:
        self.store_uri = store_uri
        self._store: ArtifactStore | None = None

    def read(self, run: str) -> dict[str, Any] | None:
        """The run's result document, or None when it is not there (yet) or the store cannot be read now."""
        return self._document(f"runs/{run}/result.json")

    def progress(self, run: str) -> dict[str, Any] | None:
        """The running search's progress document (trials done, total, best so far), if it wrote one."""
        return self._document(f"runs/{run}/progress.json")

    def document(self, key: str) -> dict[str, Any] | None:
        """Any small JSON document the operator's runs write (a batch run's progress counts), or None."""
        return self._document(key)

    def _document(self, key: str) -> dict[str, Any] | None:
        if not self.store_uri:
            return None
        try:
            if self._store is None:
                self._store = open_store(self.store_uri)
            return dict(json.loads(self._store.read(key)))
        except ObjectNotFound:
            return None
        except (ContractError, ValueError) as exc:
            log.warning("cannot read %s yet: %s", key, exc)
            return None
