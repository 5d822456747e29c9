"""The embedded store's pieces agree: pinned version, image, chart and the test fixture run the same server."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.support.versitygw import BUCKET, HEALTH_PATH, DataLayout, versitygw_command

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = (REPO / "charts/sextant/templates/objectstore.yaml").read_text()
VALUES = yaml.safe_load((REPO / "charts/sextant/values.yaml").read_text())["artifactStore"]["embedded"]


def pinned_version() -> str:
    go_mod = (REPO / "controlplane/tools/versitygw/go.mod").read_text()
    match = re.search(r"^\s*github\.com/versity/versitygw (v\S+)", go_mod, re.M)
    assert match, "controlplane/tools/versitygw/go.mod does not require github.com/versity/versitygw"
    return match.group(1)


def test_the_image_tag_and_the_dockerfile_name_the_pinned_version() -> None:
    dockerfile = (REPO / "controlplane/objectstore/Dockerfile").read_text()
    assert f"versitygw {pinned_version()}" in dockerfile
    assert VALUES["image"]["tag"] == pinned_version()


def test_the_dockerfile_runs_as_the_charts_user_on_the_charts_port() -> None:
    dockerfile = (REPO / "controlplane/objectstore/Dockerfile").read_text()
    assert "USER 65532:65532" in dockerfile and "runAsUser: 65532" in TEMPLATE
    assert f"EXPOSE {VALUES['port']}" in dockerfile
    assert re.search(r"^ARG BASE_IMAGE=", dockerfile, re.M) and "FROM ${BASE_IMAGE}" in dockerfile


def test_the_chart_starts_the_server_as_the_test_fixture_does() -> None:
    argv = versitygw_command(Path("/usr/local/bin/versitygw"), 7070, DataLayout(Path("/data")))
    flags = {a for a in argv if a.startswith("--")} - {"--port"}
    for flag in flags:  # the fixture's flags, each in the chart's args (as --flag=value or --flag)
        assert re.search(rf"- {re.escape(flag)}(=|$)", TEMPLATE, re.M), f"{flag} is not in the chart's args"
    assert f"--health={HEALTH_PATH}" in TEMPLATE and "--iam-dir=/data/iam" in TEMPLATE
    assert "--sidecar=/data/meta" in TEMPLATE and "- /data/buckets" in TEMPLATE
    assert '"/data/buckets/{{ $embedded.bucket }}", "/data/meta", "/data/iam"' in TEMPLATE
    assert VALUES["bucket"] == BUCKET


def test_keys_reach_the_server_by_reference_under_the_names_the_sdks_read() -> None:
    for variable in ("ROOT_ACCESS_KEY_ID", "ROOT_SECRET_ACCESS_KEY"):
        assert f"name: {variable}\n              valueFrom:\n                secretKeyRef:" in TEMPLATE
    assert "AWS_ACCESS_KEY_ID: {{ $access }}" in TEMPLATE and "AWS_SECRET_ACCESS_KEY: {{ $secret }}" in TEMPLATE
