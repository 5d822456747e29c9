"""Runs the Sextant operator as a real process on the host, with the chart's RBAC and webhook configuration.

The operator authenticates as the chart's ServiceAccount (a TokenRequest token), never as the admin. The
webhook configuration is the one the chart renders, with its Service reference replaced by a URL on
127.0.0.1, because the API server runs on the host and cannot reach a Service without a network plugin.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sextant_operator.admission.certs import ServingCertificate, write_self_signed
from tests.support.polling import eventually
from tests.support.processes import free_port
from tests.support.resources import REPO

CHART = REPO / "charts" / "sextant"
RELEASE = "sx"
SERVICE_ACCOUNT = f"{RELEASE}-sextant"


def helm_template(cluster: Any, namespace: str, *args: str) -> list[dict[str, Any]]:
    """The chart rendered for a release in namespace (extra args are passed to helm template)."""
    out = subprocess.run(
        [str(cluster.bin_dir / "helm"), "template", RELEASE, str(CHART), "--namespace", namespace,
         "--kube-version", "1.35.4", *args], capture_output=True, text=True, check=True, timeout=60)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def apply_docs(cluster: Any, docs: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(docs))


def install_crds(cluster: Any) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(REPO / "manifests" / "crds"))
    # kubectl wait fails at once (no retry) when a just-created CRD has no status.conditions yet: poll it.
    eventually(lambda: cluster.kubectl("wait", "--for=condition=Established", "--timeout=10s",
                                       "crd/trainingjobs.ml.sextant.io", "crd/inferenceservices.ml.sextant.io",
                                       "crd/batchpredictions.ml.sextant.io",
                                       check=False).returncode == 0, timeout=60, what="the CRDs to be established")


def chart_rbac(cluster: Any, namespace: str) -> list[dict[str, Any]]:
    """The ServiceAccount, Role and RoleBinding of the chart in namespaced mode, watching `namespace`."""
    docs = helm_template(cluster, namespace, "--set", f"watch.namespaces={{{namespace}}}")
    return [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]


def chart_webhook(cluster: Any, namespace: str, port: int, ca_pem: bytes) -> dict[str, Any]:
    """The chart's ValidatingWebhookConfiguration, pointed at an operator listening on 127.0.0.1:port."""
    docs = helm_template(cluster, namespace, "--set", f"watch.namespaces={{{namespace}}}")
    (config,) = [d for d in docs if d["kind"] == "ValidatingWebhookConfiguration"]
    for hook in config["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}",
                                "caBundle": base64.b64encode(ca_pem).decode()}
    return config


#: The operator image's packages (tests/bench/operator/setup.sh; `make bench` runs it), for benchmarks that
#: measure the operator process: the development venv has more, and kopf imports kubernetes_asyncio whenever it
#: is installed (40 MiB more).
OPERATOR_VENV = Path(os.environ.get("SEXTANT_OPERATOR_VENV", Path.home() / ".cache/sextant/bench/operator-venv"))


def operator_image_python() -> str:
    """The Python of the operator image's environment; fails the benchmark when it was not set up."""
    python = OPERATOR_VENV / "bin" / "python"
    if not python.exists():
        raise AssertionError(f"no operator environment at {OPERATOR_VENV}: run tests/bench/operator/setup.sh "
                             "(make bench does)")
    return str(python)


@dataclass
class OperatorProcess:
    """One operator process; its output goes to `log`."""

    kubeconfig: Path
    namespaces: tuple[str, ...]
    workdir: Path
    webhook_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)  # more variables (SEXTANT_STORE_URI, ...)
    proc: subprocess.Popen[bytes] | None = None
    cert: ServingCertificate | None = None
    starts: int = 0
    start_timeout: float = 30.0  # seconds to the liveness endpoint; a loaded machine (benchmarks) needs more
    module: str = "sextant_operator"  # or tests.support.traced_operator, run from the repository root
    python: str = sys.executable  # or the operator image's environment (the memory benchmark)

    @property
    def log(self) -> Path:
        return self.workdir / f"operator-{self.starts}.log"

    def start(self) -> None:
        if self.cert is None:
            self.cert = write_self_signed(self.workdir / "certs", ["127.0.0.1"])
        self.starts += 1
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "SEXTANT_NAMESPACES": ",".join(self.namespaces),
               "SEXTANT_WEBHOOK_BIND": "127.0.0.1", "SEXTANT_WEBHOOK_PORT": str(self.webhook_port),
               "SEXTANT_WEBHOOK_CERT_DIR": str(self.cert.certfile.parent), "SEXTANT_WATCH_TIMEOUT": "60",
               "SEXTANT_LIVENESS": f"http://127.0.0.1:{self.health_port}/healthz", "SEXTANT_LOG_FORMAT": "full",
               # The session's cluster may have the Gateway API CRDs (the Gateway tests install them) but no
               # Gateway for these operators: they route through the router, as the chart would be told to.
               "SEXTANT_ROUTING": "router", "SEXTANT_METRICS_PORT": str(self.metrics_port),
               **self.env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([self.python, "-m", self.module], stdout=out, stderr=subprocess.STDOUT,
                                         env=env, cwd=Path(__file__).resolve().parents[2])
        eventually(self._healthy, timeout=self.start_timeout, what=f"operator liveness endpoint (log: {self.log})")

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.logs()}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("operator-*.log")))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send sig and wait for the exit; return the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)


def forbidden_lines(logs: str) -> list[str]:
    """Log lines reporting an HTTP 403 (not merely containing 403, such as a timestamp's milliseconds)."""
    return [line for line in logs.splitlines()
            if "forbidden" in line.lower() or re.search(r'\(403\)|" 403 |status[ =:]+403\b', line)]


def error_lines(logs: str) -> list[str]:
    return [line for line in logs.splitlines() if " ERROR " in line or "Traceback" in line]
