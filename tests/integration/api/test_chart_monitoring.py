"""The chart's monitoring objects: off by default, valid against the Prometheus Operator's own CRD schemas when on,
and carrying the rules and dashboard files unchanged; the plain scrape config is a valid Prometheus config that
scrapes what the PodMonitors and ServiceMonitor scrape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kubeconform import LOCATION, strict, write_crd_schemas, write_kubernetes_schemas
from tests.support.monitoring import DASHBOARD_FILE, RULES_FILE, monitoring_tool
from tests.support.sextant_operator import helm_template

ALL_ON = ["--set", "monitoring.serviceMonitor.enabled=true", "--set", "monitoring.podMonitor.enabled=true",
          "--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.grafanaDashboard.enabled=true",
          "--set", "monitoring.scrapeConfig.enabled=true", "--set", "monitoring.labels.release=kube-prometheus-stack"]
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def _by_name(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def test_monitoring_is_off_by_default_but_the_operator_exposes_its_metrics(cluster: Any) -> None:
    docs = _by_name(helm_template(cluster, "sextant-system"))
    assert not {k.split("/")[0] for k in docs} & MONITORING_KINDS
    assert "ConfigMap/sx-sextant-dashboard" not in docs and "ConfigMap/sx-sextant-scrape-config" not in docs
    container = docs["Deployment/sx-sextant-operator"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 8081} in container["ports"]
    assert {"name": "SEXTANT_METRICS_PORT", "value": "8081"} in container["env"]
    service = docs["Service/sx-sextant-metrics"]["spec"]
    assert service["ports"] == [{"name": "metrics", "port": 8081, "targetPort": "metrics"}]


@pytest.mark.parametrize("mode", [[], ["--set", "watch.namespaces={team-a,team-b}"]], ids=["clusterwide", "namespaced"])
def test_monitoring_objects_pass_kubeconform_strict_against_the_prometheus_operator_crds(
        cluster: Any, tmp_path: Path, mode: list[str]) -> None:
    crds = [d for d in yaml.safe_load_all(monitoring_tool("prometheus-operator-crds.yaml").read_text()) if d]
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    write_kubernetes_schemas(cluster, schemas)
    write_crd_schemas(schemas)
    for crd in crds:
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        kind = crd["spec"]["names"]["kind"]
        (schemas / f"{kind.lower()}_v1.json").write_text(json.dumps(strict(version["schema"]["openAPIV3Schema"])))
    docs = helm_template(cluster, "sextant-system", *ALL_ON, *mode)
    assert {d["kind"] for d in docs} >= MONITORING_KINDS
    rendered = tmp_path / "chart.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    result = subprocess.run([str(cluster.bin_dir / "kubeconform"), "-strict", "-summary", "-schema-location",
                             f"{schemas}/{LOCATION}", str(rendered)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Invalid: 0, Errors: 0" in result.stdout
    monitors = [d for d in docs if d["kind"] == "PodMonitor"]
    if mode:
        assert all(m["spec"]["namespaceSelector"] == {"matchNames": ["team-a", "team-b"]} for m in monitors)
    else:
        assert all(m["spec"]["namespaceSelector"] == {"any": True} for m in monitors)


def test_the_rule_and_dashboard_objects_carry_the_files_unchanged(cluster: Any) -> None:
    docs = _by_name(helm_template(cluster, "sextant-system", *ALL_ON, "--set",
                                  "monitoring.grafanaDashboard.namespace=grafana", "--set",
                                  "monitoring.grafanaDashboard.folder=ML"))
    rule = docs["PrometheusRule/sx-sextant"]
    assert rule["spec"]["groups"] == yaml.safe_load(RULES_FILE.read_text())["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    board = docs["ConfigMap/sx-sextant-dashboard"]
    assert json.loads(board["data"]["sextant-overview.json"]) == json.loads(DASHBOARD_FILE.read_text())
    assert board["metadata"]["namespace"] == "grafana" and board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["annotations"] == {"grafana_folder": "ML"}


def test_the_plain_scrape_config_is_valid_and_scrapes_what_the_monitors_do(cluster: Any, tmp_path: Path) -> None:
    docs = _by_name(helm_template(cluster, "sextant-system", *ALL_ON))
    jobs = {j["job_name"]: j for j in yaml.safe_load(
        docs["ConfigMap/sx-sextant-scrape-config"]["data"]["scrape-configs.yaml"])}
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": list(jobs.values()), "rule_files": [str(RULES_FILE)]}))
    check = subprocess.run([str(monitoring_tool("promtool")), "check", "config", str(config)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    for component in ("model-server", "router"):
        monitor = docs[f"PodMonitor/sx-sextant-{component}s"]["spec"]
        endpoint = monitor["podMetricsEndpoints"][0]
        job = jobs[f"sextant-{component}s"]
        keep = job["relabel_configs"][0]
        assert keep["action"] == "keep" and keep["regex"] == f"{component};{endpoint['port']};.+"
        assert keep["source_labels"][0] == "__meta_kubernetes_pod_label_ml_sextant_io_component"
        assert monitor["selector"] == {"matchLabels": {"ml.sextant.io/component": component}, "matchExpressions": [
            {"key": "ml.sextant.io/inferenceservice", "operator": "Exists"}]}
        assert job["metrics_path"] == endpoint["path"] and job["scrape_interval"] == endpoint["interval"]
        # The Operator adds namespace, pod and container itself; both add inferenceservice and component.
        added = {r["targetLabel"] for r in endpoint["relabelings"]}
        assert added | {"namespace", "pod", "container"} == {r["target_label"] for r in job["relabel_configs"]
                                                             if "target_label" in r}
    operator = docs["ServiceMonitor/sx-sextant-operator"]["spec"]["endpoints"][0]
    assert operator["honorLabels"] and jobs["sextant-operator"]["honor_labels"]
    assert operator["port"] == "metrics" and jobs["sextant-operator"]["relabel_configs"][0]["regex"] == \
        "metrics;sx;metrics"
