"""The embedded store's figures for docs/artifact-store.md: memory at idle and after load, and 100 MiB PUT/GET
throughput on loopback, side by side with moto (the test double) and a plain file copy on the same disk.

Each transfer goes through boto3's managed transfer (8 MiB parts, 10 threads), as the registry's uploads do;
the best of SEXTANT_BENCH_REPEATS (default 3) counts. Results go to bench-results/objectstore.{json,md}.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bench.pipelines.common import env_int, write_results
from tests.support.s3server import S3Server, running_s3_server
from tests.support.versitygw import running_versitygw

MIB = 1024 * 1024
SIZE = 100 * MIB


def best_seconds(action: Callable[[], Any], repeats: int) -> float:
    """The fastest of `repeats` runs, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def memory_kib(pid: int) -> dict[str, int]:
    """Resident set now (VmRSS) and its peak (VmHWM) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "peak_kib": int(fields["VmHWM"].split()[0])}


def s3_rates(server: S3Server, bucket: str, source: Path, back: Path, repeats: int) -> dict[str, float]:
    client = server.client()
    put = best_seconds(lambda: client.upload_file(str(source), bucket, "bench/100mib.bin"), repeats)
    get = best_seconds(lambda: client.download_file(bucket, "bench/100mib.bin", str(back)), repeats)
    assert back.stat().st_size == SIZE
    return {"put_mib_s": SIZE / MIB / put, "get_mib_s": SIZE / MIB / get}


def file_rates(source: Path, work: Path, repeats: int) -> dict[str, float]:
    put = best_seconds(lambda: shutil.copyfile(source, work / "copy.bin"), repeats)
    get = best_seconds(lambda: shutil.copyfile(work / "copy.bin", work / "back.bin"), repeats)
    return {"put_mib_s": SIZE / MIB / put, "get_mib_s": SIZE / MIB / get}


@pytest.mark.bench
def test_objectstore_figures(tmp_path: Path) -> None:
    repeats = env_int("SEXTANT_BENCH_REPEATS", 3)
    source = tmp_path / "100mib.bin"
    source.write_bytes(os.urandom(SIZE))
    doc: dict[str, Any] = {"size_mib": SIZE // MIB, "repeats": repeats, "cpus": os.cpu_count()}
    with running_versitygw(tmp_path / "versitygw") as store:
        doc["versitygw_idle"] = memory_kib(store.server.process.pid)
        doc["versitygw"] = s3_rates(store.s3, store.bucket, source, tmp_path / "back-v.bin", repeats)
        doc["versitygw_after"] = memory_kib(store.server.process.pid)
    (tmp_path / "moto").mkdir()
    with running_s3_server(tmp_path / "moto") as moto:
        doc["moto"] = s3_rates(moto, moto.create_bucket("bench"), source, tmp_path / "back-m.bin", repeats)
    (tmp_path / "file").mkdir()
    doc["file_copy"] = file_rates(source, tmp_path / "file", repeats)
    rows = [f"| {name} | {doc[name]['put_mib_s']:.0f} | {doc[name]['get_mib_s']:.0f} | "
            f"{doc[name]['put_mib_s'] / doc['file_copy']['put_mib_s']:.2f} |"
            for name in ("versitygw", "moto", "file_copy")]
    table = ["| 100 MiB on loopback | PUT MiB/s | GET MiB/s | PUT vs file copy |", "| --- | --- | --- | --- |", *rows,
             "", f"versitygw RSS at idle {doc['versitygw_idle']['rss_kib'] / 1024:.1f} MiB, "
             f"peak after the transfers {doc['versitygw_after']['peak_kib'] / 1024:.1f} MiB"]
    write_results("objectstore", doc, table)
    assert doc["versitygw"]["put_mib_s"] > 0 and doc["versitygw"]["get_mib_s"] > 0
