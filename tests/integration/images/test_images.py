"""The built images behave as pods will run them: UID 65532, read-only root, only /tmp writable, no registry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sextant_devcluster.images import ImageRef, load_index
from sextant_devcluster.images.build import default_cache
from sextant_devcluster.layout import free_port
from tests.support.image_archives import (
    archive_config,
    archive_paths,
    archive_repo_tags,
    run_in_image,
    runc_argv,
    unpack_rootfs,
)
from tests.support.polling import eventually
from tests.support.processes import http_status
from tests.support.resources import REPO

# `make test` builds the images first (warm: a second); alone, this builds what is missing (cold: minutes).
pytestmark = pytest.mark.timeout(3600)

ENTRYPOINTS = {
    "pause": ["/pause"],
    "operator": ["python", "-m", "sextant_operator"],
    "trainer": ["sextant-train"],
    "server": ["python", "-m", "sextant_services", "serve"],
    "router": ["python", "-m", "sextant_services.router"],
    "objectstore": ["/usr/local/bin/versitygw"],
    "dask-operator": ["kopf", "run", "-m", "dask_kubernetes.operator.controller"],
}
SITE = "app/.venv/lib/python3.11/site-packages"
IRIS = """apiVersion: ml.sextant.io/v1alpha1
kind: TrainingJob
metadata: {name: iris}
spec:
  task: classification
  dataset: {uri: "builtin:iris", target: target}
  estimator: {algorithm: logistic_regression}
  acceptance: [{metric: accuracy, min: 0.9}]
  model: {name: iris, promote: production}
"""


@pytest.fixture(scope="module")
def images() -> dict[str, ImageRef]:
    proc = subprocess.run([sys.executable, "-m", "sextant_devcluster.images", "build"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return load_index(REPO / "build/images.json")


class Unpacked:
    """Each image's root filesystem, unpacked once per tag into the cache (runc mounts it read-only, so runs
    share it and a warm test run unpacks nothing); older unpacks of the same image are removed."""

    def __init__(self, images: dict[str, ImageRef], root: Path) -> None:
        self.images, self.root = images, root

    def rootfs(self, name: str) -> Path:
        path = self.root / f"{name}-{self.images[name].tag}"
        if not path.is_dir():
            for stale in self.root.glob(f"{name}-*"):
                subprocess.run(["rm", "-rf", str(stale)], check=True)
            unpack_rootfs(self.images[name].archive, path.with_suffix(".partial"))
            path.with_suffix(".partial").rename(path)
        return path

    def run(self, name: str, workdir: Path, args: list[str], binds: dict[str, Path] | None = None,
            ) -> subprocess.CompletedProcess[str]:
        return run_in_image(self.rootfs(name), workdir, self.images[name].archive, args, binds=binds)


@pytest.fixture(scope="module")
def unpacked(images: dict[str, ImageRef]) -> Unpacked:
    return Unpacked(images, default_cache() / "images" / "rootfs")


def test_every_image_is_indexed_by_content_tag_with_a_matching_archive(images: dict[str, ImageRef]) -> None:
    assert set(images) == set(ENTRYPOINTS)
    for name, image in images.items():
        assert re.fullmatch(rf"sextant\.local/{name}:[0-9a-f]{{12}}", image.ref)
        assert image.archive.name == f"{name}-{image.tag}.tar"
        assert archive_repo_tags(image.archive) == [image.ref]


@pytest.mark.parametrize("name", sorted(ENTRYPOINTS))
def test_image_runs_as_uid_65532_with_its_entrypoint(images: dict[str, ImageRef], name: str) -> None:
    config = archive_config(images[name].archive)["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ENTRYPOINTS[name]


def test_operator_image_has_kopf_and_no_ml_libraries(images: dict[str, ImageRef]) -> None:
    packages = {p.split("/")[5] for p in archive_paths(images["operator"].archive) if p.startswith(SITE + "/")}
    assert {"kopf", "kubernetes", "sextant_operator", "sextant_contracts"} <= packages
    assert not packages & {"sklearn", "pandas", "bentoml", "numpy"}


def test_operator_image_starts_and_names_the_missing_webhook_certificates(unpacked: Unpacked, tmp_path: Path) -> None:
    proc = unpacked.run("operator", tmp_path, [])
    assert proc.returncode == 2 and "SEXTANT_WEBHOOK_CERT_DIR is not set" in proc.stderr, proc.stderr[-2000:]


def test_pause_image_holds_only_the_static_pause(images: dict[str, ImageRef], unpacked: Unpacked,
                                                 tmp_path: Path) -> None:
    assert {p for p in archive_paths(images["pause"].archive) if p} == {"pause"}
    proc = unpacked.run("pause", tmp_path, ["-v"])
    assert proc.returncode == 0 and proc.stdout.startswith("pause.c k8s.io/kubernetes@v")


@pytest.fixture(scope="module")
def trained(unpacked: Unpacked, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The trainer image's run of the iris TrainingJob: the store it wrote and its result document."""
    work = tmp_path_factory.mktemp("trainer")
    store = work / "store"
    store.mkdir()
    store.chmod(0o777)
    (work / "in").mkdir()
    (work / "in" / "iris.yaml").write_text(IRIS)
    proc = unpacked.run("trainer", work, ["run", "--spec", "/in/iris.yaml", "--store", "file:///store"],
                        binds={"/in": work / "in", "/store": store})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return store, result


def test_trainer_trains_and_registers_on_a_read_only_root(trained: tuple[Path, dict[str, Any]]) -> None:
    store, result = trained
    assert result["accepted"] is True and result["model"]["version"] == 1, result
    assert (store / "models" / "iris").is_dir()


@contextmanager
def running(unpacked: Unpacked, name: str, workdir: Path, args: list[str], binds: dict[str, Path]) -> Iterator[Path]:
    """The image running under runc on the host network (as a pod with a port); killed on the way out."""
    argv = runc_argv(unpacked.rootfs(name), workdir, unpacked.images[name].archive, args, binds=binds,
                     host_network=True)
    log_path = workdir / f"{name}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield log_path
        finally:
            subprocess.run(["runc", "--root", argv[2], "kill", argv[-1], "KILL"], capture_output=True, check=False)
            proc.wait(30)
            subprocess.run(["runc", "--root", argv[2], "delete", "--force", argv[-1]], capture_output=True,
                           check=False)


def _predict(url: str) -> dict[str, Any]:
    body = json.dumps({"records": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4,
                                    "petal width (cm)": 0.2}]}).encode()
    request = urllib.request.Request(url + "/predict", body, {"content-type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http://127.0.0.1 only
        return dict(json.load(response))


def test_server_and_router_serve_the_model_on_a_read_only_root(
        unpacked: Unpacked, trained: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    store, _ = trained
    server_port, router_port = free_port(), free_port()
    server_args = ["--store", "file:///store", "--model", "iris", "--alias", "production", "--host", "127.0.0.1",
                   "--port", str(server_port)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "router.json").write_text(json.dumps({
        "listen": f"127.0.0.1:{router_port}", "probeIntervalSeconds": 0.5,
        "variants": [{"name": "default", "url": f"http://127.0.0.1:{server_port}", "weight": 100}]}))
    with running(unpacked, "server", tmp_path, server_args, {"/store": store}) as server_log, \
            running(unpacked, "router", tmp_path, ["--spec", "/in/router.json", "--run-dir", "/tmp/router"],
                    {"/in": tmp_path / "in"}) as router_log:
        try:
            eventually(lambda: http_status(f"http://127.0.0.1:{server_port}/readyz") == 200, timeout=240,
                       what="the server image's /readyz")
            answer = eventually(lambda: _predict(f"http://127.0.0.1:{router_port}"), timeout=60,
                                what="a prediction through the router image")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nserver: {server_log.read_text()[-2000:]}\n"
                                 f"router: {router_log.read_text()[-2000:]}") from None
    assert answer["predictions"] == [0] and answer["model"] == "iris"
