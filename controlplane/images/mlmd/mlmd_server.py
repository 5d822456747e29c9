"""An ML Metadata gRPC service for KFP's driver and launcher: every MetadataStoreService method, served generically.

The `ml-metadata` wheel carries MLMD's C++ store as a Python extension whose functions take a method's serialized
request and return its serialized response (the way the wheel's own MetadataStore class calls them). This service
looks every method of the service descriptor up by name in that extension and forwards the request bytes unparsed,
so nothing is hand-picked and nothing is re-encoded. The two plural context queries the extension lacks are
answered from their singular forms; a method that is still missing answers UNIMPLEMENTED and says so in the log.
Failed calls are logged with their request, since KFP's clients often hide the error behind their own.

Usage: python mlmd_server.py --port 8080 --sqlite /data/mlmd.sqlite
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from ml_metadata.metadata_store.pywrap.metadata_store_extension import metadata_store as extension
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2

SERVICE = metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"]
STATUS_BY_CODE = {code.value[0]: code for code in grpc.StatusCode}
LOG = logging.getLogger("mlmd")

Handler = Callable[[bytes, grpc.ServicerContext], bytes]


class Store:
    """MLMD's C++ store behind one lock (the extension's store handle is not meant for concurrent calls)."""

    def __init__(self, config: metadata_store_pb2.ConnectionConfig) -> None:
        migration = metadata_store_pb2.MigrationOptions(enable_upgrade_migration=True)
        self._handle = extension.CreateMetadataStore(config.SerializeToString(), migration.SerializeToString())
        self._lock = threading.Lock()

    def call(self, method: str, request: bytes) -> tuple[bytes, str, int]:
        """(response bytes, error message, status code) of one extension call; code 0 means it succeeded."""
        with self._lock:
            response, message, code = getattr(extension, method)(self._handle, request)
        return response, message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message), code


def describe(method: str, request: bytes) -> str:
    """The request as text, for the log (at most 2,000 characters)."""
    message_class = getattr(metadata_store_service_pb2, SERVICE.methods_by_name[method].input_type.name)
    return str(message_class.FromString(request))[:2000]


def forwarding_handler(store: Store, method: str) -> Handler:
    """A handler passing the request bytes to the extension's function of the same name."""
    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        response, message, code = store.call(method, request)
        if code != 0:
            status = STATUS_BY_CODE.get(code, grpc.StatusCode.UNKNOWN)
            # NOT_FOUND is how KFP's client asks whether a type exists before creating it: not worth a warning
            level = logging.INFO if status == grpc.StatusCode.NOT_FOUND else logging.WARNING
            LOG.log(level, "%s failed: %s: %s; request: %s", method, status.name, message.strip(),
                    describe(method, request).strip())
            context.abort(status, message)
        LOG.debug("%s ok", method)
        return bytes(response)
    return handle


def per_context_handler(store: Store, method: str, singular: str, field: str) -> Handler:
    """GetParentContextsByContexts / GetChildrenContextsByContexts from one singular call per context id."""
    request_class = getattr(metadata_store_service_pb2, f"{method}Request")
    response_class = getattr(metadata_store_service_pb2, f"{method}Response")
    singular_request = getattr(metadata_store_service_pb2, f"{singular}Request")
    singular_response = getattr(metadata_store_service_pb2, f"{singular}Response")

    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        answer = response_class()
        for context_id in request_class.FromString(request).context_ids:
            raw, message, code = store.call(singular, singular_request(context_id=context_id).SerializeToString())
            if code != 0:
                status = STATUS_BY_CODE.get(code, grpc.StatusCode.UNKNOWN)
                LOG.warning("%s failed at context %d: %s: %s", method, context_id, status.name, message)
                context.abort(status, message)
            getattr(answer.contexts[context_id], field).extend(singular_response.FromString(raw).contexts)
        return answer.SerializeToString()
    return handle


def unimplemented_handler(method: str) -> Handler:
    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        LOG.error("%s is not served: ml-metadata's extension has no such function", method)
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served by this MLMD service")
        return b""
    return handle


COMPOSED = {
    "GetParentContextsByContexts": ("GetParentContextsByContext", "parent_contexts"),
    "GetChildrenContextsByContexts": ("GetChildrenContextsByContext", "children_contexts"),
}


def method_handlers(store: Store) -> dict[str, Any]:
    """A raw-bytes unary handler for every method of MetadataStoreService."""
    handlers: dict[str, Any] = {}
    for method in SERVICE.methods:
        if hasattr(extension, method.name):
            handle = forwarding_handler(store, method.name)
        elif method.name in COMPOSED:
            handle = per_context_handler(store, method.name, *COMPOSED[method.name])
        else:
            handle = unimplemented_handler(method.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(handle)
    return handlers


def connection_config(args: argparse.Namespace) -> metadata_store_pb2.ConnectionConfig:
    config = metadata_store_pb2.ConnectionConfig()
    if args.mysql_host:
        config.mysql.host, config.mysql.port = args.mysql_host, args.mysql_port
        config.mysql.database, config.mysql.user = args.mysql_database, args.mysql_user
    else:
        config.sqlite.filename_uri = args.sqlite
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--sqlite", default="/data/mlmd.sqlite", help="the SQLite file (when no MySQL host)")
    parser.add_argument("--mysql-host", default="")
    parser.add_argument("--mysql-port", type=int, default=3306)
    parser.add_argument("--mysql-database", default="metadb")
    parser.add_argument("--mysql-user", default="root")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    store = Store(connection_config(args))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, method_handlers(store)),))
    server.add_insecure_port(f"[::]:{args.port}")
    server.start()
    missing = [m.name for m in SERVICE.methods if not hasattr(extension, m.name) and m.name not in COMPOSED]
    LOG.info("serving %d MetadataStoreService methods on port %d (not served: %s)", len(SERVICE.methods),
             args.port, ", ".join(missing) or "none")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
