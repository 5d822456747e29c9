"""After a crash, runc's state and the shims' sockets at containerd's fixed paths are cleaned, but only ours."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from sextant_devcluster import host_cleanup


def _container(runc_root: Path, name: str, bundle: Path) -> Path:
    state = runc_root / name
    state.mkdir(parents=True)
    (state / "state.json").write_text(json.dumps({"config": {"labels": [f"bundle={bundle}/{name}"]}}))
    return state


def test_only_our_dead_containers_and_unanswered_sockets_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runc_root, sockets, ours = tmp_path / "runc" / "k8s.io", tmp_path / "s", tmp_path / "state" / "node"
    monkeypatch.setattr(host_cleanup, "RUNC_STATE", runc_root)
    monkeypatch.setattr(host_cleanup, "SHIM_SOCKETS", sockets)
    mine = _container(runc_root, "a1", ours / "containerd-state" / "k8s.io")
    theirs = _container(runc_root, "b2", tmp_path / "docker" / "moby")
    sockets.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(sockets / "dead"))  # bound, never listening: what a killed shim leaves
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(sockets / "live"))
        live.listen()
        host_cleanup.remove_dead_runtime_state([ours])
        assert not mine.exists() and theirs.exists()
        assert sorted(p.name for p in sockets.iterdir()) == ["live"]


def test_missing_directories_are_nothing_to_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_cleanup, "RUNC_STATE", tmp_path / "absent")
    monkeypatch.setattr(host_cleanup, "SHIM_SOCKETS", tmp_path / "absent-too")
    host_cleanup.remove_dead_runtime_state([tmp_path])
