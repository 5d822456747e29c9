"""The BentoML service that `bentoml serve sextant_services.server:Sextant` runs (one per variant).

BentoML fixes the worker count when the class is decorated, so SEXTANT_WORKERS is read here; everything else
is read in each worker when the service instance is created.
"""

from __future__ import annotations

import os

import bentoml

from . import bentoml_fixes
from .http_app import build_http_app
from .runtime import Runtime
from .settings import ServerSettings


def _current_runtime() -> Runtime | None:
    return getattr(app.state, "runtime", None)


# Import time is the only hook here: each worker imports this module and builds BentoML's app right after.
bentoml_fixes.install()
app = build_http_app(_current_runtime)


@bentoml.asgi_app(app, path="/")
@bentoml.service(
    name="sextant",
    workers=int(os.environ.get("SEXTANT_WORKERS", "1")),
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/predict", "/v2/"]},
)
class Sextant:
    """Serves one registered model (resolved by name plus version or alias) as one variant."""

    def __init__(self) -> None:
        self.runtime = Runtime(ServerSettings.from_env())
        app.state.runtime = self.runtime
        # Loading before the worker accepts connections means a worker that answers has its model: with
        # several workers behind one socket, a probe never sees one worker ready while another is loading.
        self.runtime.load()

    def __is_ready__(self) -> bool:
        return self.runtime.ready
