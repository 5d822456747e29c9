"""KEDA beside the local cluster for the scaling tests: its CRDs, keda-operator and keda-adapter as host processes,
and the external metrics APIService pointing at the adapter; all of it undone at the end (the cluster is shared).

The binaries come from `controlplane/build-tools.sh keda-operator keda-adapter` (an hour's build, so `make test`
does not need them): a test that needs KEDA skips when they are missing, unless SEXTANT_REQUIRE_KEDA=1.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster import keda, pki
from sextant_devcluster.layout import NODE_IP
from tests.support.monitoring import cache_bin
from tests.support.polling import eventually
from tests.support.processes import free_port, stop

TOOLS_DIR = Path(__file__).resolve().parents[2] / "controlplane" / "tools" / "keda"
#: The namespace KEDA's own objects live in (the APIService's Service; KEDA's cluster-object namespace).
NAMESPACE = "keda-system"


def keda_binaries() -> Path:
    """The directory holding keda-operator and keda-adapter; skips (or fails with SEXTANT_REQUIRE_KEDA=1) without."""
    bin_dir = cache_bin()
    missing = [name for name in (keda.OPERATOR, keda.ADAPTER) if not (bin_dir / name).exists()]
    if not missing:
        return bin_dir
    why = (f"{', '.join(missing)} missing in {bin_dir}: run `controlplane/build-tools.sh keda-operator keda-adapter`"
           " (about an hour on 2 cores)")
    if os.environ.get("SEXTANT_REQUIRE_KEDA") == "1":
        pytest.fail(why)
    pytest.skip(f"{why} (SEXTANT_REQUIRE_KEDA=1 makes this a failure)")


@dataclass
class Keda:
    operator: subprocess.Popen[bytes]
    adapter: subprocess.Popen[bytes]
    workdir: Path

    def logs(self) -> str:
        return "\n".join(f"--- {name} (end):\n{(self.workdir / f'{name}.log').read_text(errors='replace')[-3000:]}"
                         for name in (keda.OPERATOR, keda.ADAPTER))


def _kubectl_json(cluster: Any, *args: str) -> dict[str, Any] | None:
    out = cluster.kubectl(*args, "-o", "json", check=False)
    return dict(json.loads(out.stdout)) if out.returncode == 0 else None


def _available(cluster: Any) -> bool:
    service = _kubectl_json(cluster, "get", "apiservice", keda.API_SERVICE) or {}
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in service.get("status", {}).get("conditions", []))


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603 - built by build-tools.sh
                                env={**os.environ, **env}, start_new_session=True)


def _https_ok(url: str, context: ssl.SSLContext) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310 - the node's address
            return int(resp.status) == 200
    except OSError:
        return False


def _install_crds(cluster: Any, module: Path) -> list[str]:
    """Apply the CRDs the cluster lacks, from the pinned module; the names installed (to delete at the end)."""
    absent = [name for name in keda.CRD_NAMES if _kubectl_json(cluster, "get", "crd", name) is None]
    if absent:
        for path, name in zip(keda.crd_paths(module), keda.CRD_NAMES, strict=True):
            if name in absent:
                cluster.kubectl("apply", "--server-side", f"--field-manager={keda.FIELD_MANAGER}", "-f", str(path))
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in absent])
    return absent


def _remove_crds(cluster: Any, names: list[str]) -> None:
    if names:
        cluster.kubectl("delete", "crd", *names, "--wait=true", "--timeout=60s", check=False)


@contextmanager
def running_keda(cluster: Any, workdir: Path, watch_namespaces: tuple[str, ...]) -> Iterator[Keda]:
    """KEDA watching `watch_namespaces`, with the external metrics API Available; everything it added to the
    cluster removed on exit: ScaledObjects in those namespaces first (KEDA's finalizers need the operator), then
    the APIService, the processes, KEDA's namespace and the CRDs this call installed."""
    bin_dir = keda_binaries()
    existing = _kubectl_json(cluster, "get", "apiservice", keda.API_SERVICE)
    if existing is not None:
        pytest.skip(f"{keda.API_SERVICE} is already registered ({existing['spec'].get('service')}): another KEDA "
                    "serves this cluster, and a shared cluster has room for one")
    workdir.mkdir(parents=True, exist_ok=True)
    ca = pki.KeyPair(cluster.layout.pem("ca").read_bytes(), cluster.layout.pem("ca-key").read_bytes())
    cert_dir = workdir / "certs"
    keda.write_certificates(cert_dir, ca, NAMESPACE)
    module = keda.module_dir(TOOLS_DIR)
    kubeconfig = cluster.user_kubeconfig(keda.USER)  # KEDA's own identity: a client certificate for its user
    env = keda.environment(NAMESPACE, watch_namespaces)
    grpc, health, secure = free_port(), free_port(), free_port()
    with ExitStack() as cleanup:
        installed = _install_crds(cluster, module)
        cleanup.callback(_remove_crds, cluster, installed)
        cluster.kubectl("create", "namespace", NAMESPACE, check=False)
        cleanup.callback(cluster.kubectl, "delete", "namespace", NAMESPACE, "--wait=false", check=False)
        # KEDA's own identity: its upstream roles bound to the user of its client certificate, nothing more.
        rbac = keda.rbac_objects(keda.rbac_documents(module), NAMESPACE)
        cluster.kubectl("apply", "--server-side", f"--field-manager={keda.FIELD_MANAGER}", "-f", "-",
                        input="\n---\n".join(json.dumps(d) for d in rbac))
        cleanup.callback(_delete_objects, cluster, rbac)
        operator = _spawn(keda.operator_command(bin_dir, kubeconfig, cert_dir, grpc, free_port(), health),
                          workdir / f"{keda.OPERATOR}.log", env)
        cleanup.callback(stop, operator)
        adapter = _spawn(keda.adapter_command(bin_dir, kubeconfig, cert_dir, secure, free_port(), grpc),
                         workdir / f"{keda.ADAPTER}.log", env)
        cleanup.callback(stop, adapter)
        running = Keda(operator, adapter, workdir)
        context = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))

        def up(check: Any) -> bool:
            # True as soon as a process has exited too: the assertion below then says so with its log.
            return any(p.poll() is not None for p in (operator, adapter)) or bool(check())

        try:
            eventually(lambda: up(lambda: _https_ok(f"https://{NODE_IP}:{secure}/livez", context)),
                       timeout=120, interval=1, what="keda-adapter to serve")
            eventually(lambda: up(lambda: _http_ok(f"http://127.0.0.1:{health}/healthz")),
                       timeout=120, interval=1, what="keda-operator to be healthy")
            for proc in (operator, adapter):
                assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{running.logs()}") from None
        cluster.kubectl("apply", "--server-side", f"--field-manager={keda.FIELD_MANAGER}", "-f", "-",
                        input="\n---\n".join(json.dumps(d) for d in keda.serving_objects(NAMESPACE, ca.cert_pem,
                                                                                          secure)))
        cleanup.callback(cluster.kubectl, "delete", "apiservice", keda.API_SERVICE, "--ignore-not-found",
                         check=False)
        started = time.monotonic()
        try:
            eventually(lambda: _available(cluster), timeout=120, interval=1,
                       what=f"the API server to report {keda.API_SERVICE} Available")
        except AssertionError as exc:
            status = _kubectl_json(cluster, "get", "apiservice", keda.API_SERVICE)
            raise AssertionError(f"{exc}: {status and status.get('status')}\n{running.logs()}") from None
        print(f"KEDA's external metrics API Available {time.monotonic() - started:.1f} s after registration")
        # Last in, first out: runs before the processes stop, while the operator can still remove finalizers.
        cleanup.callback(_delete_scaled_objects, cluster, watch_namespaces)
        yield running


def _delete_objects(cluster: Any, objects: list[dict[str, Any]]) -> None:
    cluster.kubectl("delete", "-f", "-", "--ignore-not-found", input="\n---\n".join(json.dumps(d) for d in objects),
                    check=False)


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
            return int(resp.status) == 200
    except OSError:
        return False


def _delete_scaled_objects(cluster: Any, namespaces: tuple[str, ...]) -> None:
    for namespace in namespaces:
        cluster.kubectl("delete", "scaledobjects.keda.sh", "--all", "-n", namespace, "--wait=true", "--timeout=60s",
                        check=False)
