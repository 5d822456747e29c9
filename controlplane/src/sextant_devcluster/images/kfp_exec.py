"""Build contexts of the images that execute a KFP run: one binary each, from `build-tools.sh kfp-exec`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .definitions import KFP_EXEC_BINARIES
from .index import ImagesError
from .tags import file_digest

BUILD_TOOLS = Path("controlplane/build-tools.sh")
#: build-tools.sh's names of the binaries, by image
TOOL_BINARIES = {"argo-controller": "argo-workflow-controller", "argoexec": "argoexec", "kfp-driver": "kfp-driver",
                 "kfp-launcher": "kfp-launcher"}


def built_binaries(repo: Path) -> Path:
    """The bin directory holding the four binaries (built when missing; minutes the first time).

    Raises ImagesError with the build's output when it fails."""
    proc = subprocess.run([str(repo / BUILD_TOOLS), "kfp-exec"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImagesError(f"building Argo's and KFP's executing binaries failed: {proc.stderr[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def kfp_exec_context(name: str) -> Callable[[Path, Path], Path]:
    """The context builder of image `name`: `rootfs/usr/local/bin/<command>` and an empty `rootfs/tmp` (mode
    1777), keyed by the binary's digest."""
    def build(repo: Path, contexts: Path) -> Path:
        binary = (built_binaries(repo) / TOOL_BINARIES[name]).resolve()
        key = file_digest(binary.read_bytes())[:12]
        context = contexts / f"{name}-{key}"
        target = context / "rootfs" / "usr" / "local" / "bin" / KFP_EXEC_BINARIES[name]
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(binary, target.with_suffix(".tmp"))
            target.with_suffix(".tmp").replace(target)
        tmp = context / "rootfs" / "tmp"
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)
        return context
    return build
