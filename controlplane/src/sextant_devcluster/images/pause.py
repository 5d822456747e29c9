"""The pause binary for the sandbox image: Kubernetes' own pause.c from the pinned module, built static."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from .index import ImagesError
from .tags import file_digest

KUBERNETES_TOOLS = Path("controlplane/tools/kubernetes")
PAUSE_SOURCE = "build/pause/linux/pause.c"
GCC_FLAGS = ("-Os", "-Wall", "-Werror", "-static")  # as upstream's build/pause/Makefile


def kubernetes_version(go_mod: str) -> str:
    """The k8s.io/kubernetes version a go.mod requires. Raises ImagesError when it requires none."""
    match = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", go_mod, re.M)
    if not match:
        raise ImagesError("controlplane/tools/kubernetes/go.mod does not require k8s.io/kubernetes")
    return match.group(1)


def gcc_argv(source: Path, output: Path, version: str) -> list[str]:
    """gcc as upstream builds pause; `pause -v` prints the module version it came from."""
    return ["gcc", *GCC_FLAGS, f"-DVERSION=k8s.io/kubernetes@{version}", "-o", str(output), str(source)]


def pause_source(repo: Path) -> tuple[Path, str]:
    """pause.c inside the pinned k8s.io/kubernetes module (downloaded when absent), and the module version.

    Raises ImagesError when go is missing or the module cannot be downloaded.
    """
    tools = repo / KUBERNETES_TOOLS
    version = kubernetes_version((tools / "go.mod").read_text())
    try:
        proc = subprocess.run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], cwd=tools,
                              capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImagesError("go not found: the pause image needs Go >= 1.26 (see docs/development.md)") from None
    if proc.returncode != 0:
        raise ImagesError(f"go mod download k8s.io/kubernetes@{version} failed: {proc.stdout}{proc.stderr}")
    return Path(json.loads(proc.stdout)["Dir"]) / PAUSE_SOURCE, version


def build_pause_context(repo: Path, contexts: Path) -> Path:
    """A build context holding `pause`, compiled once per pause.c and flags. Raises ImagesError when gcc fails."""
    source, version = pause_source(repo)
    key = file_digest(source.read_bytes() + " ".join(gcc_argv(Path(), Path(), version)).encode())[:12]
    context = contexts / f"pause-{key}"
    binary = context / "pause"
    if not binary.is_file():
        context.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(gcc_argv(source, binary.with_suffix(".tmp"), version), capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise ImagesError(f"gcc -static {source} failed (is libc6-dev installed?): {proc.stderr}")
        binary.with_suffix(".tmp").replace(binary)
    return context
