"""`python -m sextant_services serve ...`: start `bentoml serve` for one model variant with safe defaults.

It gives each server its own BENTOML_HOME unless one is set: BentoML keeps Prometheus' multiprocess files in
$BENTOML_HOME/prometheus_multiproc_dir and wipes that directory when a server starts, so two servers on one
host sharing it would mix (and erase) each other's metrics.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from sextant_contracts.serving_settings import batching_default


def serve_env(args: argparse.Namespace, base: dict[str, str]) -> dict[str, str]:
    """The environment for `bentoml serve`: SEXTANT_* settings plus a private BENTOML_HOME."""
    env = dict(base)
    env["SEXTANT_STORE_URI"] = args.store
    env["SEXTANT_MODEL_NAME"] = args.model
    env.pop("SEXTANT_MODEL_VERSION", None)
    env.pop("SEXTANT_MODEL_ALIAS", None)
    if args.version is not None:
        env["SEXTANT_MODEL_VERSION"] = str(args.version)
    if args.alias is not None:
        env["SEXTANT_MODEL_ALIAS"] = args.alias
    env["SEXTANT_VARIANT"] = args.variant
    env["SEXTANT_WORKERS"] = str(args.workers)
    env["SEXTANT_BATCHING"] = "false" if args.no_batching else "true"
    env["SEXTANT_MAX_BATCH_SIZE"] = str(args.max_batch_size)
    env["SEXTANT_MAX_LATENCY_MS"] = str(args.max_latency_ms)
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    if args.bentoml_home:
        env["BENTOML_HOME"] = args.bentoml_home
    elif "BENTOML_HOME" not in base:
        env["BENTOML_HOME"] = tempfile.mkdtemp(prefix="sextant-bentoml-")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sextant_services")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve one registered model with bentoml serve")
    serve.add_argument("--store", required=True, help="artifact store URI (file:// or s3://)")
    serve.add_argument("--model", required=True, help="registered model name")
    ref = serve.add_mutually_exclusive_group(required=True)
    ref.add_argument("--version", type=int, help="model version")
    ref.add_argument("--alias", help="model alias, e.g. production")
    serve.add_argument("--variant", default="default", help="variant name reported in responses and metrics")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-batching", action="store_true", help="turn adaptive batching off")
    serve.add_argument("--max-batch-size", type=int, default=int(batching_default("maxBatchSize")),
                       help="most rows per model call (spec.batching.maxBatchSize)")
    serve.add_argument("--max-latency-ms", type=int, default=int(batching_default("maxLatencyMs")),
                       help="longest a request waits in the queue before it is answered 503 "
                            "(spec.batching.maxLatencyMs)")
    serve.add_argument("--bentoml-home", help="BentoML home (default: a fresh private directory)")
    args = parser.parse_args(argv)
    bentoml = shutil.which("bentoml", path=os.path.dirname(sys.executable)) or "bentoml"
    cmd = [bentoml, "serve", "sextant_services.server:Sextant", "--host", args.host, "--port", str(args.port)]
    os.execvpe(cmd[0], cmd, serve_env(args, dict(os.environ)))  # noqa: S606 - argv built here, no shell
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
