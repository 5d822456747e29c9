"""The Debian base image: debootstrap once per content key, kept as a rootfs tarball and in buildah's storage."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .buildah import BuildahStore, has_image, log_tail, run_buildah
from .definitions import BASE_NAME, BaseDefinition, image_ref
from .index import ImagesError
from .tags import base_key

# Left out of the rootfs: downloaded .debs, package lists (a Dockerfile that installs runs apt-get update),
# manual pages and install logs (the copyright files in /usr/share/doc stay).
PRUNED = ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*", "usr/share/man/*",
          "usr/share/info/*", "var/log/*.log", "var/log/apt/*")


HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def base_ref(base: BaseDefinition) -> str:
    """The base image's content-tagged ref; the key covers suite, mirror, variant, packages and recipe."""
    key = base_key(suite=base.suite, mirror=base.mirror, variant=base.variant, packages=base.packages,
                   recipe=base.recipe)
    return image_ref(BASE_NAME, key)


def debootstrap_argv(base: BaseDefinition, target: Path) -> list[str]:
    return ["debootstrap", f"--variant={base.variant}", f"--include={','.join(base.packages)}", base.suite,
            str(target), base.mirror]


def write_host_files(rootfs: Path) -> None:
    """Replace the build machine's resolv.conf and hostname (debootstrap copies them in) with neutral ones; a
    runtime mounts its own over them, but an image must not carry this machine's."""
    (rootfs / "etc" / "resolv.conf").unlink(missing_ok=True)
    (rootfs / "etc" / "resolv.conf").write_text("")
    (rootfs / "etc" / "hostname").write_text("localhost\n")
    (rootfs / "etc" / "hosts").write_text(HOSTS)


def make_rootfs_tar(base: BaseDefinition, tarball: Path, work: Path) -> None:
    """debootstrap into `work`, prune it and pack it into `tarball`. Raises ImagesError when debootstrap fails."""
    rootfs = work / "rootfs"
    proc = subprocess.run(debootstrap_argv(base, rootfs), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log = rootfs / "debootstrap" / "debootstrap.log"
        detail = log.read_text() if log.is_file() else proc.stdout + proc.stderr
        raise ImagesError(f"debootstrap of Debian {base.suite} from {base.mirror} failed; last lines:\n"
                          f"{log_tail(detail)}\nCheck that the mirror is reachable and that this runs as root.")
    write_host_files(rootfs)
    for pattern in PRUNED:
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    tmp = tarball.with_suffix(".tmp")
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tmp), "."], check=True)
    tmp.replace(tarball)


def import_rootfs(store: BuildahStore, tarball: Path, ref: str) -> None:
    """A one-layer image from the rootfs tarball: buildah from scratch, unpack into its mount, commit."""
    container = run_buildah(store, ["from", "--pull=never", "scratch"], what="creating the base container").strip()
    try:
        mountpoint = run_buildah(store, ["mount", container], what="mounting the base container").strip()
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", mountpoint, "-xpf", str(tarball)], check=True)
        run_buildah(store, ["config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "--env", "LANG=C.UTF-8", "--cmd", "/bin/bash", "--label",
                            f"org.opencontainers.image.ref.name={ref}", container], what="configuring the base")
        run_buildah(store, ["commit", "--quiet", container, ref], what="committing the base image")
    finally:
        run_buildah(store, ["rm", container], what="removing the base container")


def ensure_base(store: BuildahStore, cache: Path, base: BaseDefinition,
                say: Callable[[str], None]) -> tuple[str, str]:
    """The base image's ref, made if missing; and what happened (for the summary line)."""
    ref = base_ref(base)
    if has_image(store, ref):
        return ref, "up to date"
    started = time.monotonic()
    tarball = cache / "images" / f"{BASE_NAME}-{ref.rsplit(':', 1)[1]}.rootfs.tar"
    tarball.parent.mkdir(parents=True, exist_ok=True)
    made = not tarball.is_file()
    if made:
        say(f"{BASE_NAME:<9} debootstrap {base.suite} from {base.mirror} (a few minutes, once per package list)")
        with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="debootstrap-") as work:
            make_rootfs_tar(base, tarball, Path(work))
    import_rootfs(store, tarball, ref)
    verb = "debootstrapped and imported" if made else "imported from its rootfs tarball"
    return ref, f"{verb} in {time.monotonic() - started:.0f} s"
