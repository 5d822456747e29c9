"""Content tags: an image is named by the hash of everything that goes into it, so an unchanged image is reused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

TAG_LENGTH = 12


def content_tag(*, dockerfile: str, ignorefile: str, files: Mapping[str, str], build_args: Mapping[str, str],
                target: str | None) -> str:
    """12 hex digits of sha256 over the Dockerfile, its ignore file, the copied files' digests (by path), the
    build arguments (the base image's content-tagged ref among them) and the target stage."""
    document = {"dockerfile": dockerfile, "ignorefile": ignorefile, "files": dict(sorted(files.items())),
                "build_args": dict(sorted(build_args.items())), "target": target}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:TAG_LENGTH]


def base_key(*, suite: str, mirror: str, variant: str, packages: Sequence[str], recipe: str) -> str:
    """12 hex digits naming a debootstrapped base: suite, mirror, variant, package list and the recipe version."""
    document = {"suite": suite, "mirror": mirror, "variant": variant, "packages": sorted(packages), "recipe": recipe}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:TAG_LENGTH]


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
