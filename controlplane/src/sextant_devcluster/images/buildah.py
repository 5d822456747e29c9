"""The one place that runs buildah: daemonless builds in a storage root of our own under $SEXTANT_CACHE."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .index import ImagesError

LOG_TAIL_LINES = 25
DEBIAN_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_BUNDLE_SECRET_ID = "ca-certificates"  # noqa: S105 - a build secret's name, not a password


@dataclass(frozen=True)
class BuildahStore:
    """buildah's image storage (--root), its run state (--runroot) and a temp dir for its cache mounts."""

    root: Path
    runroot: Path
    tmpdir: Path

    @classmethod
    def under(cls, cache: Path) -> BuildahStore:
        return cls(cache / "buildah" / "storage", cache / "buildah" / "run", cache / "buildah" / "tmp")


def buildah_argv(store: BuildahStore, *args: str) -> list[str]:
    """A buildah command line on our own storage (overlay driver), never the machine's default store."""
    return ["buildah", "--root", str(store.root), "--runroot", str(store.runroot), "--storage-driver", "overlay",
            *args]


def bud_args(*, dockerfile: Path, ignorefile: Path | None, context: Path, ref: str, target: str | None,
             build_args: Mapping[str, str], secrets: Mapping[str, Path] | None = None) -> list[str]:
    """`buildah bud` arguments: chroot isolation (no daemon, no user namespaces), nothing pulled from a registry,
    intermediate layers kept so a changed source file does not repeat the dependency downloads. `secrets` are
    files a RUN step may mount (the CA bundle); they are not part of the image or its tag."""
    args = ["bud", "--isolation", "chroot", "--pull=never", "--layers", "--format", "docker", "-f", str(dockerfile),
            "-t", ref]
    if ignorefile is not None:
        args += ["--ignorefile", str(ignorefile)]
    if target:
        args += ["--target", target]
    for key, value in sorted(build_args.items()):
        args += ["--build-arg", f"{key}={value}"]
    for key, path in sorted((secrets or {}).items()):
        args += ["--secret", f"id={key},src={path}"]
    return [*args, str(context)]


def push_args(ref: str, archive: Path) -> list[str]:
    """`buildah push` to a docker-archive (a `docker save` file) named with the ref, as `ctr images import` wants."""
    return ["push", "--quiet", ref, f"docker-archive:{archive}:{ref}"]


def buildah_env(store: BuildahStore) -> dict[str, str]:
    """buildah's environment: its temp files (and RUN --mount=type=cache directories) inside our cache."""
    for directory in (store.root, store.runroot, store.tmpdir):
        directory.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(store.tmpdir), "BUILDAH_FORMAT": "docker"}


def trust_bundle(env: Mapping[str, str], default: Path = DEBIAN_CA_BUNDLE) -> Path | None:
    """The CA bundle this machine trusts (SSL_CERT_FILE, else Debian's), handed to builds that download from
    PyPI: behind a TLS-intercepting proxy the image's own CA list would not do."""
    for candidate in (env.get("SSL_CERT_FILE"), str(default)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_buildah(store: BuildahStore, args: Sequence[str], *, what: str, log: Path | None = None) -> str:
    """Run buildah and return its output; with `log`, the output goes there as it comes (tail -f it).

    Raises ImagesError with the tail of the output, where the full log is and what to try next.
    """
    argv = buildah_argv(store, *args)
    if log is None:
        proc = subprocess.run(argv, capture_output=True, text=True, env=buildah_env(store), check=False)
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as sink:
            returncode = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, env=buildah_env(store),
                                        check=False).returncode
        output = log.read_text(errors="replace")
    if returncode != 0:
        where = f"full log: {log}" if log else f"command: {' '.join(argv)}"
        raise ImagesError(f"{what} failed (buildah exit {returncode}); last lines:\n{log_tail(output)}\n"
                          f"{where}\nFix the step above and run `make images` again (finished images are kept).")
    return output


def has_image(store: BuildahStore, ref: str) -> bool:
    """True when the image is in our buildah storage."""
    proc = subprocess.run(buildah_argv(store, "inspect", "--type", "image", "--format", "{{.FromImageID}}", ref),
                          capture_output=True, text=True, check=False, env=buildah_env(store))
    return proc.returncode == 0


#: buildah's directory of `RUN --mount=type=cache` contents (pip's and uv's downloads) under TMPDIR: kept.
CACHE_MOUNTS_PREFIX = "buildah-cache"


@contextmanager
def exclusive(store: BuildahStore, say: Callable[[str], None] = print) -> Iterator[None]:
    """One build command at a time on the storage: another checkout's `make images` waits here. That makes what
    killed builds left behind safe to remove (`remove_leftovers`) and stops one build pruning under another."""
    lock = store.root.parent / "build.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another image build on this machine to finish (it holds {lock})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def remove_leftovers(store: BuildahStore) -> None:
    """Delete what builds that were killed left: working containers (each keeps a mounted copy of its image) and
    their temp directories. Only under `exclusive`."""
    env = buildah_env(store)  # creates the directories on a fresh machine
    subprocess.run(buildah_argv(store, "rm", "--all"), capture_output=True, check=False, env=env)
    for entry in store.tmpdir.iterdir():
        if entry.name.startswith(CACHE_MOUNTS_PREFIX):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def prune_dangling(store: BuildahStore) -> None:
    """Delete images no tag names: the cached steps of earlier builds (the next build of a changed image repeats
    its dependency steps)."""
    run_buildah(store, ["rmi", "--prune"], what="removing the cached steps of earlier builds")
