"""Read a docker-archive (config, file list) and run its image with runc, as a kubelet would: no daemon needed."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def archive_config(archive: Path) -> dict[str, Any]:
    """The image config (`config` holds User, Entrypoint, Cmd, Env) of a single-image docker-archive."""
    with tarfile.open(archive) as outer:
        manifest = json.load(_member(outer, "manifest.json"))[0]
        config: dict[str, Any] = json.load(_member(outer, manifest["Config"]))
        return config


def archive_repo_tags(archive: Path) -> list[str]:
    with tarfile.open(archive) as outer:
        return list(json.load(_member(outer, "manifest.json"))[0]["RepoTags"])


def archive_paths(archive: Path) -> set[str]:
    """Every path in the image's layers (without a leading ./ or /)."""
    paths: set[str] = set()
    with tarfile.open(archive) as outer:
        for layer in json.load(_member(outer, "manifest.json"))[0]["Layers"]:
            with tarfile.open(fileobj=_member(outer, layer)) as inner:
                paths.update(m.name.removeprefix("./").lstrip("/") for m in inner)
    return paths


def _member(outer: tarfile.TarFile, name: str) -> Any:
    handle = outer.extractfile(name)
    if handle is None:
        raise FileNotFoundError(f"{name} is not a file in the archive")
    return handle


def unpack_rootfs(archive: Path, rootfs: Path) -> None:
    """Apply the layers in order, honouring whiteouts (.wh.<name> deletes <name> from lower layers)."""
    rootfs.mkdir(parents=True)
    with tarfile.open(archive) as outer:
        layers = json.load(_member(outer, "manifest.json"))[0]["Layers"]
        for layer in layers:
            with tarfile.open(fileobj=_member(outer, layer)) as inner:
                for whiteout in [m.name for m in inner if Path(m.name).name.startswith(".wh.")]:
                    target = rootfs / Path(whiteout).parent / Path(whiteout).name.removeprefix(".wh.")
                    subprocess.run(["rm", "-rf", str(target)], check=True)
            with subprocess.Popen(["tar", "-xOf", str(archive), layer], stdout=subprocess.PIPE) as reader:
                subprocess.run(["tar", "--numeric-owner", "-xpf", "-", "-C", str(rootfs), "--exclude=*.wh.*"],
                               stdin=reader.stdout, check=True)
            if reader.returncode != 0:
                raise RuntimeError(f"cannot read layer {layer} of {archive}")


def runc_config(image_config: dict[str, Any], rootfs: Path, args: Sequence[str], env: dict[str, str],
                binds: dict[str, Path], host_network: bool) -> dict[str, Any]:
    """A runc bundle config: the image's user, env and entrypoint; read-only root, a tmpfs at /tmp, no
    capabilities, `binds` mounted read-write, a new network namespace unless `host_network`."""
    user, _, group = str(image_config.get("User") or "0").partition(":")
    image_env = dict(e.split("=", 1) for e in image_config.get("Env") or [])
    argv = [*(image_config.get("Entrypoint") or []), *args]
    mounts = [{"destination": "/proc", "type": "proc", "source": "proc"},
              {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
              {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
              *({"destination": d, "type": "bind", "source": str(s), "options": ["rbind", "rw"]}
                for d, s in binds.items())]
    namespaces = ["pid", "ipc", "uts", "mount", *([] if host_network else ["network"])]
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": int(user), "gid": int(group or user)}, "args": argv,
                    "env": [f"{k}={v}" for k, v in {**image_env, **env}.items()], "cwd": "/",
                    "noNewPrivileges": True, "capabilities": {}},
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "sextant-test",
        "mounts": mounts,
        "linux": {"namespaces": [{"type": t} for t in namespaces]},
    }


def runc_argv(rootfs: Path, workdir: Path, archive: Path, args: Sequence[str], env: dict[str, str] | None = None,
              binds: dict[str, Path] | None = None, host_network: bool = False) -> list[str]:
    """A fresh bundle in `workdir` for the unpacked (read-only, shareable) rootfs; the `runc run` command for it.

    Like the kubelet, it provides /etc/hosts (localhost) in the container.
    """
    bundle = workdir / f"bundle-{uuid.uuid4().hex[:8]}"
    bundle.mkdir(parents=True)
    (bundle / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n")
    all_binds = {"/etc/hosts": bundle / "hosts", **(binds or {})}
    config = runc_config(archive_config(archive)["config"], rootfs, args, env or {}, all_binds, host_network)
    (bundle / "config.json").write_text(json.dumps(config))
    name = f"sextant-test-{uuid.uuid4().hex[:8]}"
    return ["runc", "--root", str(bundle / "runc-state"), "run", "--bundle", str(bundle), name]


def run_in_image(rootfs: Path, workdir: Path, archive: Path, args: Sequence[str], env: dict[str, str] | None = None,
                 binds: dict[str, Path] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the image's entrypoint with `args` under runc (as the image's user) and return its output."""
    argv = runc_argv(rootfs, workdir, archive, args, env, binds)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
