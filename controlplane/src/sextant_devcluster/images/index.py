"""The index of built images (build/images.json): what other code (the real node, tests) imports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

INDEX_PATH = Path("build/images.json")


class ImagesError(Exception):
    """An image cannot be built or found; the message says what to do."""


@dataclass(frozen=True)
class ImageRef:
    """A built image: its content-tagged reference and the docker-archive file `ctr images import` takes."""

    name: str
    ref: str
    archive: Path

    @property
    def tag(self) -> str:
        return self.ref.rsplit(":", 1)[1]


def render_index(refs: dict[str, ImageRef]) -> str:
    """The index document: {"<name>": {"ref": ..., "archive": ...}} sorted by name."""
    document = {name: {"ref": r.ref, "archive": str(r.archive)} for name, r in sorted(refs.items())}
    return json.dumps(document, indent=2) + "\n"


def parse_index(text: str) -> dict[str, ImageRef]:
    """The image refs in an index document. Raises ImagesError when it is not one."""
    try:
        document = json.loads(text)
        return {name: ImageRef(name, str(e["ref"]), Path(e["archive"])) for name, e in document.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ImagesError(f"the image index is not valid ({exc}): run `make images` to write it again") from exc


def load_index(path: Path = INDEX_PATH) -> dict[str, ImageRef]:
    """The built images by name, each with an existing archive.

    Raises ImagesError when the index or an archive it names is missing (the fix: `make images`).
    """
    try:
        refs = parse_index(path.read_text())
    except FileNotFoundError:
        raise ImagesError(f"no image index at {path}: run `make images` to build the images") from None
    missing = [f"{r.name} ({r.archive})" for r in refs.values() if not r.archive.is_file()]
    if missing:
        raise ImagesError(f"image archives are missing: {', '.join(missing)}; run `make images` to rebuild them")
    return refs


def write_index(path: Path, refs: dict[str, ImageRef]) -> None:
    """Write the index, keeping entries of images not built this time whose archives still exist."""
    merged: dict[str, ImageRef] = {}
    if path.is_file():
        try:
            merged = {n: r for n, r in parse_index(path.read_text()).items() if r.archive.is_file()}
        except ImagesError:
            merged = {}
    merged.update(refs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(render_index(merged))
    tmp.replace(path)
