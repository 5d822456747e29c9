"""The REST layer: JSON /predict and /predict_proba, and the Open Inference Protocol V2 endpoints.

Handlers decode, call the data plane and encode; ServingError is mapped to an HTTP status in one place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import oip
from .dataplane import DataPlane
from .errors import MalformedRequest, ModelNotFound, ModelNotReady, PayloadTooLarge, ServingError
from .features import row_count, validate_body
from .runtime import Runtime

log = logging.getLogger("sextant_services")
RuntimeGetter = Callable[[], Runtime | None]
PLATFORM = "sextant-bentoml-sklearn"


def _builtin(value: Any) -> Any:
    """What orjson cannot write itself: arrays of text labels (a classifier's predictions in the user's labels
    are an object or unicode array) and numpy scalars, as their Python values."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_builtin), status_code=status,
                    media_type="application/json")


async def read_json(request: Request, limit: int) -> Any:
    """Read at most `limit` bytes and parse them; raises PayloadTooLarge (413) or MalformedRequest (400)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes; "
                              "split the request or raise SEXTANT_MAX_BODY_BYTES")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes; split the request")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"body is not valid JSON: {exc}") from None


class CountRequests:
    """ASGI middleware counting every answered request by bounded route and status (unknown paths' 404s, 503s
    before the model is loaded, and 504s: BentoML's request timeout cancels the app before it responds).

    Installed on the BentoML service (`add_asgi_middleware`), so it also sees BentoML's own routes and the 404s
    of paths no route matches; BentoML places it inside its TimeoutMiddleware."""

    def __init__(self, app: ASGIApp, get_runtime: RuntimeGetter) -> None:
        self.app = app
        self._get_runtime = get_runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except asyncio.CancelledError:
            status = status or 504  # cancelled before responding: the client got BentoML's 504
            raise
        finally:
            self._observe(scope, status or 500)

    def _observe(self, scope: Scope, status: int) -> None:
        rt = self._get_runtime()
        if rt is not None and rt.requests is not None:
            root, path = scope.get("root_path", ""), scope["path"]
            rt.requests.observe(path[len(root):] if root and path.startswith(root) else path, status)


class Handlers:
    """Route handlers bound to the worker's runtime (set once the BentoML service instance exists)."""

    def __init__(self, get_runtime: RuntimeGetter) -> None:
        self._get_runtime = get_runtime

    def _runtime(self) -> Runtime:
        rt = self._get_runtime()
        if rt is None:
            raise ModelNotReady("the server is starting")
        return rt

    def _plane_for(self, request: Request) -> DataPlane:
        plane = self._runtime().require_plane()
        name = request.path_params.get("name")
        version = request.path_params.get("version")
        if name is not None and name != plane.model.name:
            raise ModelNotFound(f"this server serves model {plane.model.name!r}, not {name!r}", field="name")
        if version is not None and version != str(plane.model.version):
            raise ModelNotFound(f"this server serves {plane.model.name!r} version {plane.model.version}, "
                                f"not {version!r}", field="version")
        return plane

    async def _guarded(self, endpoint: str, request: Request,
                       work: Callable[[DataPlane, Any], Awaitable[tuple[dict[str, Any], int]]]) -> Response:
        started = time.perf_counter()
        plane: DataPlane | None = None
        rows = 0
        try:
            plane = self._plane_for(request)
            body = await read_json(request, self._runtime().settings.max_body_bytes)
            payload, rows = await work(plane, body)
            status, response = 200, json_response(payload)
            response.headers["x-sextant-worker"] = str(os.getpid())
        except ServingError as exc:
            status, response = exc.status, json_response(exc.body(), exc.status)
        except Exception:  # a server fault: log it with the traceback, answer 500 without internals
            log.exception("unexpected error serving %s", endpoint)
            status, response = 500, json_response({"error": "internal error; see the server log",
                                                   "code": "InternalError"}, 500)
        if plane is not None and plane.metrics is not None:
            plane.metrics.observe_request(endpoint, status, time.perf_counter() - started, rows)
        if self._time_to_reconnect():
            response.headers["connection"] = "close"
        return response

    def _time_to_reconnect(self) -> bool:
        """True for about one response in SEXTANT_KEEPALIVE_REQUESTS, so long-lived clients spread over workers."""
        rt = self._get_runtime()
        every = rt.settings.keepalive_requests if rt is not None else 0
        return every > 0 and random.random() * every < 1.0  # noqa: S311 - load spreading, not security

    async def predict(self, request: Request) -> Response:
        return await self._guarded("predict", request, lambda p, b: self._simple(p, b, False))

    async def predict_proba(self, request: Request) -> Response:
        return await self._guarded("predict_proba", request, lambda p, b: self._simple(p, b, True))

    async def _simple(self, plane: DataPlane, body: Any, proba: bool) -> tuple[dict[str, Any], int]:
        cols = validate_body(body, plane.model.schema, self._runtime().settings.max_rows)
        result = await plane.predict(cols, proba)
        out = plane.describe()
        out["predictions"] = result.predictions
        if proba:
            out["classes"] = plane.model.classes
            out["probabilities"] = result.probabilities
        return out, row_count(cols)

    async def infer(self, request: Request) -> Response:
        return await self._guarded("infer", request, self._infer)

    async def _infer(self, plane: DataPlane, body: Any) -> tuple[dict[str, Any], int]:
        cols, proba, request_id = oip.decode_infer_request(body, plane.model.schema,
                                                           self._runtime().settings.max_rows)
        result = await plane.predict(cols, proba)
        m = plane.model
        return oip.encode_infer_response(m.name, m.version, plane.variant, request_id,
                                         result.predictions, result.probabilities), row_count(cols)

    async def drift(self, request: Request) -> Response:
        """Judge live bin counts against this model's baseline (the operator's drift monitor asks)."""
        try:
            plane = self._plane_for(request)
            body = await read_json(request, self._runtime().settings.max_body_bytes)
            m = plane.model
            title = f"Drift of {m.name} version {m.version} ({plane.variant})"
            from .drift_check import check_drift  # scipy loads on the first check, not at every server start
            report = await asyncio.to_thread(check_drift, m.manifest, body, title)
        except ServingError as exc:
            return json_response(exc.body(), exc.status)
        return json_response(report)

    async def server_live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def server_ready(self, request: Request) -> Response:
        rt = self._get_runtime()
        if rt is not None and rt.ready:
            return json_response({"ready": True})
        reason = rt.not_ready_reason() if rt is not None else "the server is starting"
        return json_response({"ready": False, "reason": reason}, 503)

    async def server_metadata(self, request: Request) -> Response:
        import bentoml

        return json_response({"name": "sextant", "version": bentoml.__version__, "extensions": []})

    async def model_metadata(self, request: Request) -> Response:
        try:
            plane = self._plane_for(request)
        except ServingError as exc:
            return json_response(exc.body(), exc.status)
        m = plane.model
        return json_response(oip.model_metadata(m.name, m.version, plane.variant, m.schema, PLATFORM))

    async def model_ready(self, request: Request) -> Response:
        try:
            self._plane_for(request)
        except ServingError as exc:
            return json_response({**exc.body(), "ready": False}, exc.status)
        return json_response({"ready": True})


def build_http_app(get_runtime: RuntimeGetter) -> Starlette:
    """The Starlette app BentoML mounts at `/` beside its own /livez, /readyz and /metrics."""
    h = Handlers(get_runtime)
    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [
        Route("/predict", h.predict, methods=["POST"]),
        Route("/predict_proba", h.predict_proba, methods=["POST"]),
        Route("/drift", h.drift, methods=["POST"]),
        Route("/v2", h.server_metadata, methods=["GET"]),
        Route("/v2/health/live", h.server_live, methods=["GET"]),
        Route("/v2/health/ready", h.server_ready, methods=["GET"]),
        Route(model, h.model_metadata, methods=["GET"]),
        Route(versioned, h.model_metadata, methods=["GET"]),
        Route(f"{model}/ready", h.model_ready, methods=["GET"]),
        Route(f"{versioned}/ready", h.model_ready, methods=["GET"]),
        Route(f"{model}/infer", h.infer, methods=["POST"]),
        Route(f"{versioned}/infer", h.infer, methods=["POST"]),
    ]
    return Starlette(routes=routes)
