"""Fingerprints of the third-party code our workarounds depend on, so an upgrade that changes it is noticed.

`bentoml_fixes` replaces BentoML's TimeoutMiddleware.__call__ and `shutdown` drives uvicorn's Server through
its SIGTERM handler and graceful-shutdown timeout. Both were written against the exact source recorded here;
tests/unit/services/test_upstream_guards.py fails, naming the package version and the symbol, when the
installed source differs, so whoever upgrades reads the new code before the workaround silently misbehaves.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import version


@dataclass(frozen=True)
class Fingerprint:
    """The first 16 hex digits of the sha256 of `symbol`'s source, as checked against `package` `checked`."""

    package: str
    checked: str
    symbol: str  # module:qualified.name
    sha256: str
    why: str


FINGERPRINTS = (
    Fingerprint("bentoml", "1.4.39", "bentoml._internal.server.http.traffic:TimeoutMiddleware", "4dab3e6bdd06efc5",
                "bentoml_fixes replaces its __call__ and relies on its `app` and `timeout` attributes and its 504"),
    Fingerprint("uvicorn", "0.54.0", "uvicorn.server:Server.handle_exit", "553276efa26e09ea",
                "shutdown hands SIGTERM to it after the drain delay"),
    Fingerprint("uvicorn", "0.54.0", "uvicorn.server:Server.capture_signals", "e1bbcd4770d1c887",
                "shutdown replaces the SIGTERM handler it installs (signal.signal, bound handle_exit)"),
    Fingerprint("uvicorn", "0.54.0", "uvicorn.server:Server.shutdown", "9b33c50562992b1e",
                "shutdown bounds the drain with config.timeout_graceful_shutdown, read here"),
)


def resolve(symbol: str) -> object:
    """The object named `module:qualified.name`; raises ImportError or AttributeError when it is gone."""
    module_name, _, qualname = symbol.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def source_sha256(obj: object) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def drift(fp: Fingerprint) -> str | None:
    """None when the installed symbol still has the recorded source, else a message saying what to do."""
    installed = version(fp.package)
    try:
        actual = source_sha256(resolve(fp.symbol))
    except (ImportError, AttributeError) as exc:
        actual = f"missing ({exc})"
    if actual == fp.sha256:
        return None
    return (f"{fp.package} {installed} changed {fp.symbol} (source sha256 {actual}, expected {fp.sha256} as in "
            f"{fp.package} {fp.checked}); {fp.why}. Read the new source, adapt the workaround, then update "
            f"FINGERPRINTS in sextant_services/upstream_guard.py")
