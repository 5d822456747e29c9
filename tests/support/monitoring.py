"""Prometheus, promtool and the chart's monitoring files (rules, dashboard, scrape config), for the monitoring tests.

The binaries come from `controlplane/build-tools.sh prometheus promtool prometheus-operator-crds`
(`make monitoring-tools`). A test that needs one skips when it is missing, unless SEXTANT_REQUIRE_MONITORING=1 or
CI is set (`make test` sets the first): then a missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import free_port, http_status, stop, wait_until
from tests.support.sextant_operator import CHART

RULES_FILE = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD_FILE = CHART / "files" / "grafana-dashboard.json"
RULES_TESTS = Path(__file__).resolve().parents[1] / "unit" / "monitoring" / "rules_test.yaml"
#: What a dashboard query's Grafana variables become when the test runs it: every namespace, service, feature.
DASHBOARD_VARIABLES = {"$__rate_interval": "1m", "$__range": "10m", "$namespace": ".*", "$inferenceservice": ".*",
                       "$feature": ".*"}


def cache_bin() -> Path:
    return Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache" / "sextant")) / "bin"


def monitoring_tool(name: str) -> Path:
    """A built monitoring tool (prometheus, promtool, prometheus-operator-crds.yaml); skips or fails when absent."""
    found = cache_bin() / name
    if found.exists():
        return found
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    missing = f"{found} is missing: run `make monitoring-tools`"
    if os.environ.get("SEXTANT_REQUIRE_MONITORING") == "1" or os.environ.get("CI"):
        pytest.fail(missing)
    pytest.skip(f"{missing} (SEXTANT_REQUIRE_MONITORING=1 or CI makes this a failure)")


def rules() -> list[dict[str, Any]]:
    """Every rule of the rules file, recording and alerting, in order."""
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@dataclass(frozen=True)
class DashboardQuery:
    panel: str
    expr: str

    def runnable(self, variables: Mapping[str, str] = DASHBOARD_VARIABLES) -> str:
        """The PromQL with Grafana's variables replaced (longest names first: $__range before $__rate...)."""
        expr = self.expr
        for name in sorted(variables, key=len, reverse=True):
            expr = expr.replace(name, variables[name])
        return expr


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text()))


def dashboard_queries() -> list[DashboardQuery]:
    return [DashboardQuery(panel["title"], target["expr"]) for panel in dashboard()["panels"]
            for target in panel.get("targets", [])]


def dashboard_variable_matchers() -> dict[str, str]:
    """Each query variable's `label_values(selector, label)` as (label -> selector with variables replaced)."""
    out = {}
    for var in dashboard()["templating"]["list"]:
        if var["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), *(\w+)\)", var["query"]["query"])
        assert match, f"variable {var['name']}: not a label_values(selector, label) query"
        out[var["name"]] = DashboardQuery(var["name"], match.group(1)).runnable()
    return out


class PrometheusServer:
    """A Prometheus process on loopback and its HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:  # noqa: S310 - loopback
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query: the result vector (series whose value is NaN included, as Prometheus returns them)."""
        return list(self._get("/api/v1/query", query=expr)["result"])

    def series(self, expr: str) -> list[dict[str, Any]]:
        """The query's series with a real number (NaN left out: a ratio of nothing is not data)."""
        return [s for s in self.query(expr) if s["value"][1] not in ("NaN", "+Inf", "-Inf")]

    def label_values(self, label: str, match: str) -> list[str]:
        return list(self._get(f"/api/v1/label/{label}/values", **{"match[]": match}))

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["activeTargets"])

    def rule_health(self) -> dict[str, str]:
        groups = self._get("/api/v1/rules")["groups"]
        return {r.get("name", ""): r["health"] for g in groups for r in g["rules"]}


@contextmanager
def running_prometheus(workdir: Path, config: dict[str, Any], port: int | None = None) -> Iterator[PrometheusServer]:
    """Prometheus with `config` (prometheus.yml as a dict), its TSDB in `workdir`, on `port` (a free one when
    None), stopped on exit."""
    binary = monitoring_tool("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run([str(monitoring_tool("promtool")), "check", "config", str(workdir / "prometheus.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    port = port or free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - the binary built by build-tools.sh
        [str(binary), f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or http_status(f"{url}/-/ready") == 200, timeout=60,
                   what="Prometheus to be ready")
        assert proc.poll() is None, (workdir / "prometheus.log").read_text()[-3000:]
        yield PrometheusServer(url)
    finally:
        stop(proc)
        log.close()


def with_kubeconfig(scrape_configs: list[dict[str, Any]], kubeconfig: Path) -> list[dict[str, Any]]:
    """The chart's scrape jobs for a Prometheus outside the cluster: service discovery through `kubeconfig`
    instead of the in-cluster ServiceAccount (everything else unchanged)."""
    out = json.loads(json.dumps(scrape_configs))
    for job in out:
        for sd in job.get("kubernetes_sd_configs", []):
            sd["kubeconfig_file"] = str(kubeconfig)
    return out


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.0f} s"
