"""Plan (pure: content tags) and build (buildah) the images, writing docker-archives and the index."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..disk import GIB, free_bytes
from .base import base_ref, ensure_base
from .buildah import (
    CA_BUNDLE_SECRET_ID,
    BuildahStore,
    bud_args,
    buildah_argv,
    buildah_env,
    prune_dangling,
    push_args,
    run_buildah,
    trust_bundle,
)
from .context import copied_files, copy_sources, parse_dockerignore
from .definitions import BASE, KFP_EXEC_BINARIES, BaseDefinition, ImageDefinition, image_ref
from .index import ImageRef, ImagesError
from .kfp_exec import kfp_exec_context
from .objectstore import build_objectstore_context
from .pause import build_pause_context
from .tags import content_tag, file_digest


@dataclass(frozen=True)
class CacheLayout:
    """Where images go under $SEXTANT_CACHE: archives, build logs, generated contexts, buildah's storage."""

    cache: Path

    @property
    def images(self) -> Path:
        return self.cache / "images"

    @property
    def contexts(self) -> Path:
        return self.images / "contexts"

    def archive(self, name: str, tag: str) -> Path:
        return self.images / f"{name}-{tag}.tar"

    def log(self, name: str, tag: str) -> Path:
        return self.images / "logs" / f"{name}-{tag}.log"


@dataclass(frozen=True)
class PlannedImage:
    """An image with everything its build needs and the content tag that names it."""

    definition: ImageDefinition
    dockerfile: Path
    context: Path
    ignorefile: Path | None
    tag: str
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return image_ref(self.definition.name, self.tag)


def default_cache() -> Path:
    return Path(os.environ.get("SEXTANT_CACHE") or Path.home() / ".cache" / "sextant")


def context_candidates(context: Path, sources: Iterable[str]) -> list[str]:
    """The files under the COPY sources in the build context, as relative paths."""
    found: list[str] = []
    for source in sources:
        top = context / source
        if top.is_file():
            found.append(source)
        for dirpath, _, filenames in os.walk(top):
            found += [str((Path(dirpath) / f).relative_to(context)) for f in filenames]
    return found


def plan_image(definition: ImageDefinition, repo: Path, context: Path, base: BaseDefinition = BASE) -> PlannedImage:
    """Read the Dockerfile, its ignore file and the files it copies; compute the content tag."""
    dockerfile = repo / definition.dockerfile
    text = dockerfile.read_text()
    ignore_path = repo / definition.ignorefile
    ignore = ignore_path.read_text() if ignore_path.is_file() else ""
    sources = copy_sources(text)
    files = copied_files(context_candidates(context, sources), sources, parse_dockerignore(ignore))
    build_args = dict(definition.build_args)
    if definition.on_base:
        build_args["BASE_IMAGE"] = base_ref(base)
    tag = content_tag(dockerfile=text, ignorefile=ignore, build_args=build_args, target=definition.target,
                      files={f: file_digest((context / f).read_bytes()) for f in files})
    return PlannedImage(definition, dockerfile, context, ignore_path if ignore_path.is_file() else None, tag,
                        build_args)


# Images whose build context is a binary the builder makes (by name), not the repository.
GENERATED_CONTEXTS: dict[str, Callable[[Path, Path], Path]] = {
    "pause": build_pause_context,
    "objectstore": build_objectstore_context,
    **{name: kfp_exec_context(name) for name in KFP_EXEC_BINARIES},
}


def plan_images(definitions: Sequence[ImageDefinition], repo: Path, layout: CacheLayout) -> list[PlannedImage]:
    """Plans for the definitions; generated contexts (pause, versitygw) are built here, once per source."""
    plans = []
    for definition in definitions:
        generated = GENERATED_CONTEXTS.get(definition.name) if definition.generated_context else None
        context = generated(repo, layout.contexts) if generated is not None else repo
        plans.append(plan_image(definition, repo, context))
    return plans


#: What buildah says when a cached step's layer was removed while it looked (a concurrent prune of older builds).
STALE_LAYER_CACHE = "layer not known"


def is_stale_layer_cache(output: str) -> bool:
    return STALE_LAYER_CACHE in output


def build_image(plan: PlannedImage, store: BuildahStore, layout: CacheLayout) -> Path:
    """Build the image and write its docker-archive (atomically). Raises ImagesError with buildah's output."""
    name, log = plan.definition.name, layout.log(plan.definition.name, plan.tag)
    bundle = trust_bundle(os.environ)
    secrets = {CA_BUNDLE_SECRET_ID: bundle} if bundle else {}
    args = bud_args(dockerfile=plan.dockerfile, ignorefile=plan.ignorefile, context=plan.context, ref=plan.ref,
                    target=plan.definition.target, build_args=plan.build_args, secrets=secrets)
    what = f"building the {name} image ({plan.definition.dockerfile})"
    try:
        run_buildah(store, args, what=what, log=log)
    except ImagesError as error:
        if not is_stale_layer_cache(str(error)):
            raise
        # Another checkout's build pruned an image whose layers this build's cache lookup had just found; a second
        # lookup sees the storage as it is now and rebuilds only the steps whose cached layers are gone.
        run_buildah(store, args, what=what, log=log)
    archive = layout.archive(name, plan.tag)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    run_buildah(store, push_args(plan.ref, partial), what=f"writing the {name} archive {archive}")
    partial.replace(archive)
    return archive


#: Archives (and buildah images) of one image kept besides the newest: another checkout on the machine may still
#: use it. Every build adds about 0.3-1 GB per image; without pruning a day of work filled the disk (the real
#: node's kubelet then reported DiskPressure and garbage-collected the imported images).
KEEP_OLDER_BUILDS = 1
#: Below this much free space after building, the cached steps of earlier builds go too (`prune_dangling`): they
#: hold the layers of every removed build, 11 GB after a day of work, and the disk matters more than build time.
LOW_DISK = 15 * GIB


def prune_older_builds(name: str, keep: str, store: BuildahStore, layout: CacheLayout) -> list[str]:
    """Delete all but the newest KEEP_OLDER_BUILDS archives and buildah images of `name` besides tag `keep`."""
    older = sorted((a for a in layout.images.glob(f"{name}-*.tar") if a.name != f"{name}-{keep}.tar"),
                   key=lambda a: a.stat().st_mtime, reverse=True)[KEEP_OLDER_BUILDS:]
    removed = []
    for archive in older:
        tag = archive.name.removeprefix(f"{name}-").removesuffix(".tar")
        archive.unlink(missing_ok=True)
        subprocess.run(buildah_argv(store, "rmi", "-f", image_ref(name, tag)), capture_output=True,
                       check=False, env=buildah_env(store))
        removed.append(tag)
    return removed


def build_all(plans: Sequence[PlannedImage], store: BuildahStore, layout: CacheLayout,
              say: Callable[[str], None] = print) -> dict[str, ImageRef]:
    """Build what has no archive yet (the base first, when needed); say one line per image."""
    missing = [p for p in plans if not layout.archive(p.definition.name, p.tag).is_file()]
    if any(p.definition.on_base for p in missing):
        ref, what = ensure_base(store, layout.cache, BASE, say)
        say(f"{'base':<9} {ref}  {what}")
    refs = {}
    for plan in plans:
        name = plan.definition.name
        archive = layout.archive(name, plan.tag)
        if plan in missing:
            say(f"{name:<9} building {plan.definition.dockerfile} (log: {layout.log(name, plan.tag)})")
            started = time.monotonic()
            build_image(plan, store, layout)
            size = archive.stat().st_size / 1e6
            say(f"{name:<9} {plan.ref}  built in {time.monotonic() - started:.0f} s ({size:.0f} MB)")
            pruned = prune_older_builds(name, plan.tag, store, layout)
            if pruned:
                say(f"{name:<9} removed {len(pruned)} older build(s): {', '.join(pruned)}")
        else:
            say(f"{name:<9} {plan.ref}  up to date")
        refs[name] = ImageRef(name, plan.ref, archive.resolve())
    if missing and free_bytes(store.root) < LOW_DISK:
        before = free_bytes(store.root)
        prune_dangling(store)
        say(f"{'disk':<9} {before / GIB:.1f} GiB free: removed the cached steps of earlier builds, "
            f"{(free_bytes(store.root) - before) / GIB:.1f} GiB back")
    return refs
