"""Run wrk against one endpoint and parse its summary (successes only count; >0.1% errors voids a run)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,' ..
    '"timeout":%%d,"p50_ms":%%.3f,"p99_ms":%%.3f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class WrkResult:
    target: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    ok_rps: float
    p50_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / max(self.requests + self.errors, 1)

    @property
    def counts(self) -> bool:
        """A run with more than 0.1% errors does not count."""
        return self.error_rate <= 0.001

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "error_rate": self.error_rate, "counts": self.counts}


def run_wrk(target: str, url: str, body: str, concurrency: int, seconds: float, workdir: Path) -> WrkResult:
    script = workdir / f"wrk-{target}-{concurrency}.lua"
    script.write_text(LUA % json.dumps(body))
    threads = 1 if concurrency < 4 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script), url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {proc.stdout}\n{proc.stderr}")
    s = json.loads(line[len("WRKJSON "):])
    errors = s["connect"] + s["read"] + s["write"] + s["status"] + s["timeout"]
    ok = s["requests"] - s["status"]
    duration = s["duration_us"] / 1e6
    return WrkResult(target, concurrency, duration, s["requests"], errors, ok / duration, s["p50_ms"], s["p99_ms"])
