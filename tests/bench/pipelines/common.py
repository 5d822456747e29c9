"""Shared helpers for the pipeline benchmarks: results files and small statistics."""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("SEXTANT_BENCH_RESULTS", "bench-results"))


def write_results(name: str, doc: dict[str, Any], table: list[str]) -> Path:
    """Write bench-results/<name>.json and .md and print the table so `make bench` shows it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=2))
    (RESULTS / f"{name}.md").write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table))
    return RESULTS / f"{name}.md"


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
