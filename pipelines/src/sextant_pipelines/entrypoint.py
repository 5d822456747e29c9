"""The container entrypoint (`sextant-train`): run the flow from a spec file, or one shard of tuning trials.

Exit codes: 0 succeeded, 2 the spec or data is wrong (retrying will not help), 3 a retryable failure
(storage unreachable, internal error). The result document is written to --result and printed as the last
line of stdout; progress goes to stderr as it happens.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from sextant_contracts.errors import ContractError
from sextant_pipelines import flow
from sextant_pipelines.errors import SpecError

STORE_ENV = "SEXTANT_ARTIFACT_STORE"


def _spec_text(path: str) -> str:
    """The spec document from a file, or from an environment variable with `env:NAME` (how the operator
    passes it to a Job's pod: no ConfigMap to create, clean up or grant)."""
    if path.startswith("env:"):
        text = os.environ.get(path[4:])
        if text is None:
            raise SpecError("", f"environment variable {path[4:]} is not set.", "pass --spec FILE or set it.")
        return text
    return Path(path).read_text(encoding="utf-8")


def load_spec_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (spec, trainingJob lineage) from a TrainingJob document or a bare spec (YAML or JSON)."""
    try:
        doc = yaml.safe_load(_spec_text(path))
    except FileNotFoundError:
        raise SpecError("", f"spec file {path} does not exist.", "pass --spec pointing at the mounted spec.") from None
    except yaml.YAMLError as exc:
        raise SpecError("", f"spec file {path} is not valid YAML: {exc}", "fix the YAML syntax.") from None
    if not isinstance(doc, dict):
        raise SpecError("", f"spec file {path} does not hold a mapping.", "write the TrainingJob or its spec.")
    if "spec" in doc and "kind" in doc:
        meta = doc.get("metadata") or {}
        lineage = {k: meta.get(k) for k in ("namespace", "name", "uid", "generation") if meta.get(k) is not None}
        return doc["spec"], lineage
    return doc, {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sextant-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every step and register the model")
    run.add_argument("--spec", required=True, help="TrainingJob YAML/JSON (or its spec); env:NAME reads a variable")
    run.add_argument("--store", default=os.environ.get(STORE_ENV), help=f"artifact store URI (env {STORE_ENV})")
    run.add_argument("--run-id", default=os.environ.get("SEXTANT_RUN_ID"), help="run id (default: random)")
    run.add_argument("--result", help="also write the result JSON here")
    run.add_argument("--termination-message", help="write a short outcome here (/dev/termination-log in a pod)")
    run.add_argument("--trials-from-store", action="store_true",
                     help="use tuning trials written by `trials` shards of this run id instead of searching")
    trials = sub.add_parser("trials", help="evaluate one shard of tuning trials (an Indexed Job pod)")
    trials.add_argument("--spec", required=True)
    trials.add_argument("--store", default=os.environ.get(STORE_ENV))
    trials.add_argument("--run-id", required=True)
    trials.add_argument("--index", type=int, default=int(os.environ.get("JOB_COMPLETION_INDEX", "0")))
    trials.add_argument("--count", type=int, required=True, help="number of shards (the Job's completions)")
    trials.add_argument("--termination-message", help="write a short outcome here (/dev/termination-log in a pod)")
    compile_ = sub.add_parser("compile", help="compile the KFP pipeline to IR YAML")
    compile_.add_argument("--output", required=True)
    return parser


def _emit(result: dict[str, Any], path: str | None) -> None:
    text = json.dumps(result, sort_keys=True)
    if path:
        Path(path).write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


TERMINATION_MESSAGE_LIMIT = 4000  # the kubelet keeps 4096 bytes of a termination message


def termination_message(result: dict[str, Any]) -> str:
    """The outcome in a few fields for the pod's termination message, which the operator reads."""
    keys = ("status", "reason", "message", "fix", "runId") if result.get("status") == "Failed" else \
        ("status", "runId", "accepted")
    short = {k: result[k] for k in keys if k in result}
    text = json.dumps(short, sort_keys=True)
    while len(text.encode()) > TERMINATION_MESSAGE_LIMIT and short.get("message"):
        short["message"] = str(short["message"])[: len(str(short["message"])) // 2] + "…"
        text = json.dumps(short, sort_keys=True)
    return text


def _write_termination_message(path: str | None, result: dict[str, Any]) -> None:
    if not path:
        return
    try:
        Path(path).write_text(termination_message(result), encoding="utf-8")
    except OSError as exc:  # the outcome is still on stdout and in the store
        logging.getLogger("sextant.pipelines").warning("cannot write the termination message: %s", exc)


def _require_store(store: str | None) -> str:
    if not store:
        raise SpecError("store", "no artifact store was given.", f"pass --store or set {STORE_ENV}.")
    return store


def command_run(args: argparse.Namespace) -> dict[str, Any]:
    spec, lineage = load_spec_file(args.spec)
    kwargs = {"run_id": args.run_id} if args.run_id else {}
    context = flow.RunContext(_require_store(args.store), training_job=lineage, backend="job", **kwargs)
    if args.trials_from_store:
        from sextant_pipelines.sharding import run_with_stored_trials

        return run_with_stored_trials(spec, context)
    return flow.run_training(spec, context)


def command_trials(args: argparse.Namespace) -> dict[str, Any]:
    from sextant_pipelines.sharding import run_shard

    spec, _ = load_spec_file(args.spec)
    return run_shard(spec, _require_store(args.store), args.run_id, args.index, args.count)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    if args.command == "compile":
        from sextant_pipelines.kfp_pipeline import compile_pipeline

        print(compile_pipeline(args.output))
        return 0
    context_id = getattr(args, "run_id", None) or "unknown"
    try:
        result = command_run(args) if args.command == "run" else command_trials(args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one result document and an exit code
        document = flow.failure_document(exc, flow.RunContext("", run_id=context_id))
        logging.getLogger("sextant.pipelines").error("run failed: %s", document["message"] +
                                                      (f" Fix: {document['fix']}" if document.get("fix") else ""))
        _emit(document, getattr(args, "result", None))
        _write_termination_message(getattr(args, "termination_message", None), document)
        return 2 if isinstance(exc, ContractError) and exc.permanent else 3
    _emit(result, getattr(args, "result", None))
    _write_termination_message(getattr(args, "termination_message", None), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
