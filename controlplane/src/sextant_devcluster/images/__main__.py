"""`python -m sextant_devcluster.images build [names...]`: build the images `make images` promises."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from .build import CacheLayout, build_all, default_cache, plan_images
from .buildah import BuildahStore, exclusive, remove_leftovers
from .definitions import IMAGES, select_images
from .index import INDEX_PATH, ImagesError, write_index

NEEDED_COMMANDS = {"buildah": "buildah", "debootstrap": "debootstrap", "gcc": "gcc", "go": "Go >= 1.26"}


def check_machine() -> None:
    """Raises ImagesError when this is not root or a needed command is missing."""
    if os.geteuid() != 0:
        raise ImagesError("building images needs root (debootstrap, buildah's chroot isolation): run as root")
    missing = [what for command, what in NEEDED_COMMANDS.items() if shutil.which(command) is None]
    if missing:
        raise ImagesError(f"missing: {', '.join(missing)}; `make deps` installs the Debian packages")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sextant_devcluster.images", description=__doc__)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("names", nargs="*", help=f"images to build (default: all of {[i.name for i in IMAGES]})")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the checkout (default: .)")
    parser.add_argument("--index", type=Path, help=f"the index to write (default: <repo>/{INDEX_PATH})")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="default: $SEXTANT_CACHE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    repo = args.repo.resolve()
    try:
        check_machine()
        layout = CacheLayout(args.cache.resolve())
        store = BuildahStore.under(layout.cache)
        with exclusive(store):
            remove_leftovers(store)
            plans = plan_images(select_images(args.names), repo, layout)
            refs = build_all(plans, store, layout)
        write_index(args.index or repo / INDEX_PATH, refs)
    except (ImagesError, ValueError) as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
