"""pytest fixtures for Sextant's API and operator tests, imported by their conftest.py files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sextant_operator import (
    SERVICE_ACCOUNT,
    OperatorProcess,
    apply_docs,
    chart_rbac,
    chart_webhook,
    install_crds,
)


@pytest.fixture(scope="session")
def crds(cluster: Any) -> None:
    """The generated CRDs, installed once per session with server-side apply."""
    install_crds(cluster)


def start_sextant(cluster: Any, namespace: str, workdir: Path, webhook: bool = True,
                  rbac_edit: Any = None, env: dict[str, str] | None = None) -> tuple[OperatorProcess, str | None]:
    """Install the chart's RBAC for namespace, start the operator as its ServiceAccount, register the webhook.

    `env` adds variables to the operator's environment (SEXTANT_STORE_URI, ...)."""
    rbac = chart_rbac(cluster, namespace)
    if rbac_edit is not None:
        rbac = rbac_edit(rbac)
    apply_docs(cluster, rbac)
    kubeconfig = cluster.service_account_kubeconfig(namespace, SERVICE_ACCOUNT)
    operator = OperatorProcess(kubeconfig=kubeconfig, namespaces=(namespace,), workdir=workdir, env=dict(env or {}))
    operator.start()
    hook_name = None
    if webhook:
        assert operator.cert is not None
        config = chart_webhook(cluster, namespace, operator.webhook_port, operator.cert.ca_pem)
        config["metadata"]["name"] = hook_name = f"sextant-test-{namespace}"
        apply_docs(cluster, [config])
    return operator, hook_name


def stop_sextant(cluster: Any, namespace: str, operator: OperatorProcess, hook_name: str | None) -> None:
    """Delete the namespace's Sextant resources while the operator runs (it removes the finalizers), then stop."""
    if operator.proc is not None and operator.proc.poll() is None:
        cluster.kubectl("delete", "sextant", "--all", "-n", namespace, "--wait=true", "--timeout=60s", check=False)
    operator.stop()
    if hook_name:
        cluster.kubectl("delete", "validatingwebhookconfiguration", hook_name, "--ignore-not-found")


@pytest.fixture()
def sextant(cluster: Any, crds: None, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """An operator watching `namespace` as the chart's ServiceAccount, with the admission webhook registered."""
    operator, hook = start_sextant(cluster, namespace, tmp_path)
    try:
        yield operator
    finally:
        stop_sextant(cluster, namespace, operator, hook)
