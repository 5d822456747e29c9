"""Sextant's operator under tracemalloc, for finding what holds its memory (the memory benchmark's
SEXTANT_BENCH_MEMORY_TRACE=1): `python -m tests.support.traced_operator`, configured like the operator itself;
SIGUSR2 writes the 40 largest allocation sites (by line, with the calling frames) and the 20 that grew most since
the previous SIGUSR2 to $SEXTANT_TRACEMALLOC_OUT.<n>.txt."""

from __future__ import annotations

import os
import runpy
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 8
snapshots: list[tracemalloc.Snapshot] = []


def dump(_signum: int, _frame: FrameType | None) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    lines = [f"traced: {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB now, "
             f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f} MiB peak", "", "largest:"]
    for stat in snapshot.statistics("traceback")[:40]:
        lines.append(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks")
        lines += [f"    {frame.filename}:{frame.lineno}" for frame in stat.traceback]
    if snapshots:
        lines += ["", "grew most since the previous dump:"]
        for diff in snapshot.compare_to(snapshots[-1], "traceback")[:20]:
            lines.append(f"{diff.size_diff / 2**20:+8.2f} MiB {diff.count_diff:+9d} blocks")
            lines += [f"    {frame.filename}:{frame.lineno}" for frame in diff.traceback]
    snapshots[:] = [snapshot]
    out = os.environ.get("SEXTANT_TRACEMALLOC_OUT", "tracemalloc")
    Path(f"{out}.{len(list(Path(out).parent.glob(Path(out).name + '.*.txt'))) + 1}.txt").write_text(
        "\n".join(lines) + "\n")


if __name__ == "__main__":
    # Imported before tracing starts: under tracemalloc the imports alone take minutes (2.5 min on 2 cores) and
    # the benchmark's start timeout ends the run. What the operator allocates at work is what is traced.
    import sextant_operator.main  # noqa: F401

    tracemalloc.start(FRAMES)
    signal.signal(signal.SIGUSR2, dump)
    runpy.run_module("sextant_operator", run_name="__main__", alter_sys=True)
