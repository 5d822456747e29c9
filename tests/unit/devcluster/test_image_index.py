"""The image index others import, the base key and the buildah command lines, without building anything."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sextant_devcluster.images import ImageRef, ImagesError, load_index
from sextant_devcluster.images.base import base_ref, debootstrap_argv, write_host_files
from sextant_devcluster.images.buildah import BuildahStore, bud_args, buildah_argv, log_tail, push_args, trust_bundle
from sextant_devcluster.images.definitions import BASE
from sextant_devcluster.images.index import write_index
from sextant_devcluster.images.pause import kubernetes_version
from tests.support.resources import REPO


def _ref(tmp_path: Path, name: str, tag: str = "0123456789ab") -> ImageRef:
    archive = tmp_path / f"{name}-{tag}.tar"
    archive.write_bytes(b"")
    return ImageRef(name, f"sextant.local/{name}:{tag}", archive)


def test_load_index_returns_what_was_written(tmp_path: Path) -> None:
    refs = {"pause": _ref(tmp_path, "pause"), "operator": _ref(tmp_path, "operator")}
    write_index(tmp_path / "build/images.json", refs)
    loaded = load_index(tmp_path / "build/images.json")
    assert loaded == refs and loaded["pause"].tag == "0123456789ab"


def test_write_index_keeps_other_images_whose_archives_exist(tmp_path: Path) -> None:
    index = tmp_path / "images.json"
    write_index(index, {"pause": _ref(tmp_path, "pause"), "trainer": _ref(tmp_path, "trainer")})
    (tmp_path / "trainer-0123456789ab.tar").unlink()
    write_index(index, {"operator": _ref(tmp_path, "operator")})
    assert set(load_index(index)) == {"pause", "operator"}


def test_missing_index_or_archive_says_to_run_make_images(tmp_path: Path) -> None:
    with pytest.raises(ImagesError, match=r"no image index at .*: run `make images`"):
        load_index(tmp_path / "images.json")
    ref = _ref(tmp_path, "router")
    write_index(tmp_path / "images.json", {"router": ref})
    ref.archive.unlink()
    with pytest.raises(ImagesError, match=r"archives are missing: router \(.*router-0123456789ab.tar\); run `make"):
        load_index(tmp_path / "images.json")
    (tmp_path / "images.json").write_text("[1]")
    with pytest.raises(ImagesError, match="not valid"):
        load_index(tmp_path / "images.json")


def test_base_ref_changes_with_the_package_list_only() -> None:
    assert base_ref(BASE) == base_ref(dataclasses.replace(BASE, packages=tuple(reversed(BASE.packages))))
    assert base_ref(BASE) != base_ref(dataclasses.replace(BASE, packages=(*BASE.packages, "nginx-light")))
    assert base_ref(BASE).startswith("sextant.local/base:")
    argv = debootstrap_argv(BASE, Path("/r"))
    assert argv[:3] == ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates"]


def test_buildah_uses_its_own_storage_chroot_isolation_and_never_pulls() -> None:
    store = BuildahStore.under(Path("/cache"))
    argv = buildah_argv(store, *bud_args(dockerfile=Path("/r/services/Dockerfile"), ignorefile=None,
                                          context=Path("/r"), ref="sextant.local/router:abc", target="router",
                                          build_args={"BASE_IMAGE": "sextant.local/base:1"}))
    assert argv[:5] == ["buildah", "--root", "/cache/buildah/storage", "--runroot", "/cache/buildah/run"]
    assert {"--isolation", "chroot", "--pull=never", "--target", "router"} <= set(argv)
    assert "BASE_IMAGE=sextant.local/base:1" in argv and argv[-1] == "/r"
    assert push_args("sextant.local/router:abc", Path("/a.tar"))[-1] == "docker-archive:/a.tar:sextant.local/router:abc"


def test_log_tail_keeps_the_last_lines() -> None:
    assert log_tail("\n".join(str(i) for i in range(100)), lines=3) == "97\n98\n99"


def test_pause_source_comes_from_the_pinned_kubernetes_module() -> None:
    assert kubernetes_version((REPO / "controlplane/tools/kubernetes/go.mod").read_text()).startswith("v1.")
    with pytest.raises(ImagesError, match="does not require k8s.io/kubernetes"):
        kubernetes_version("module x\n")


def test_builds_trust_the_machines_ca_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert trust_bundle({"SSL_CERT_FILE": str(bundle)}) == bundle
    assert trust_bundle({"SSL_CERT_FILE": str(tmp_path / "nope")}, default=bundle) == bundle
    assert trust_bundle({}, default=tmp_path / "nope") is None
    argv = bud_args(dockerfile=Path("D"), ignorefile=None, context=Path("."), ref="r", target=None, build_args={},
                    secrets={"ca-certificates": bundle})
    assert f"id=ca-certificates,src={bundle}" in argv


def test_the_base_does_not_carry_the_build_machines_network_files(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "resolv.conf").write_text("nameserver 10.0.0.53\n")
    (tmp_path / "etc" / "hostname").write_text("buildhost\n")
    write_host_files(tmp_path)
    assert (tmp_path / "etc" / "resolv.conf").read_text() == ""
    assert (tmp_path / "etc" / "hostname").read_text() == "localhost\n"
    assert "127.0.0.1\tlocalhost" in (tmp_path / "etc" / "hosts").read_text()
