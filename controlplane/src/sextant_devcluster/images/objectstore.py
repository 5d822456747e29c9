"""The object store image's build context: the versitygw binary that build-tools.sh builds from its pinned module."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .index import ImagesError
from .tags import file_digest

BUILD_TOOLS = Path("controlplane/build-tools.sh")


def build_objectstore_context(repo: Path, contexts: Path) -> Path:
    """A context holding `versitygw`, keyed by the binary's digest. Raises ImagesError when the build fails."""
    proc = subprocess.run([str(repo / BUILD_TOOLS), "versitygw"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImagesError(f"building versitygw failed: {proc.stderr[-2000:]}")
    binary = Path(proc.stdout.strip().splitlines()[-1]) / "versitygw"
    key = file_digest(binary.read_bytes())[:12]
    context = contexts / f"objectstore-{key}"
    if not (context / "versitygw").is_file():
        context.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary.resolve(), context / "versitygw.tmp")
        (context / "versitygw.tmp").replace(context / "versitygw")
    return context
