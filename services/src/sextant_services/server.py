"""The BentoML service that `bentoml serve sextant_services.server:Sextant` runs (one per variant).

BentoML fixes the worker count and the request timeout when the class is decorated, so SEXTANT_WORKERS and
SEXTANT_REQUEST_TIMEOUT_SECONDS are read here; everything else is read in each worker when the service
instance is created.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, cast

import bentoml

from . import bentoml_fixes
from .http_app import CountRequests, build_http_app
from .metrics import RequestMetrics
from .runtime import Runtime
from .settings import ServerSettings, request_timeout_from_env
from .shutdown import install_graceful_sigterm


def _current_runtime() -> Runtime | None:
    return getattr(app.state, "runtime", None)


# Import time is the only hook here: each worker imports this module and builds BentoML's app right after.
bentoml_fixes.install()
app = build_http_app(_current_runtime)


@bentoml.asgi_app(app, path="/")
@bentoml.service(
    name="sextant",
    workers=int(os.environ.get("SEXTANT_WORKERS", "1")),
    traffic={"timeout": request_timeout_from_env(os.environ)},
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/predict", "/v2/"]},
)
class Sextant:
    """Serves one registered model (resolved by name plus version or alias) as one variant."""

    def __init__(self) -> None:
        # BentoML's server logging keeps the root logger at WARNING: our INFO lines (retries, drain, ready) say
        # what happens next and belong in the log.
        if logging.getLogger("sextant_services").level == logging.NOTSET:
            logging.getLogger("sextant_services").setLevel(logging.INFO)
        settings = ServerSettings.from_env()
        self.runtime = Runtime(settings, requests=RequestMetrics(settings.model.name, settings.variant))
        app.state.runtime = self.runtime
        # The first attempt runs before the worker accepts connections: in the usual case a worker that answers
        # has its model, so with several workers behind one socket a probe never sees one ready and another
        # loading. A failed attempt is retried in the background, the worker answering 503 with the reason.
        if not self.runtime.load():
            self.runtime.start_retrying()
        install_graceful_sigterm(self.runtime, asyncio.get_running_loop())

    async def __is_ready__(self) -> bool:
        """True when the model is loaded and warmed up and no SIGTERM came; else 503 with the reason."""
        reason = self.runtime.not_ready_reason()
        if reason is None:
            return True
        from starlette.exceptions import HTTPException

        # BentoML's /readyz answers with the detail of an HTTPException raised here (its own message otherwise
        # says only that __is_ready__ returned False).
        raise HTTPException(status_code=503, detail=reason)


# The decorators return BentoML's Service object, which bentoml.asgi_app's annotations hide from mypy.
cast(Any, Sextant).add_asgi_middleware(CountRequests, get_runtime=_current_runtime)
