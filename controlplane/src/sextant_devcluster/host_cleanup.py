"""Removes what a real node leaves on the machine (processes, mounts, pod cgroups), even after a crash."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The kubelet (cgroupfs driver) puts every pod under this cgroup in each hierarchy.
POD_CGROUP = "kubepods"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def processes_mentioning(roots: Iterable[Path]) -> list[int]:
    """Pids whose command line names a path under one of `roots` (containerd, its shims, kubelet, kube-proxy)."""
    prefixes = tuple(str(root) for root in roots)
    me = os.getpid()
    return [pid for pid in _pids() if pid != me and any(prefix in arg for arg in _cmdline(pid) for prefix in prefixes)]


def pod_cgroup_dirs() -> list[Path]:
    """Every `kubepods` cgroup directory, one per hierarchy (cgroup v1 controllers and the unified one)."""
    found = []
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        candidate = hierarchy / POD_CGROUP
        if candidate.is_dir():
            found.append(candidate)
    if (CGROUP_ROOT / POD_CGROUP / "cgroup.procs").exists():
        found.append(CGROUP_ROOT / POD_CGROUP)
    return found


def pod_processes() -> list[int]:
    """Pids of every process in a pod cgroup (containers left running after their shim died)."""
    pids: set[int] = set()
    for top in pod_cgroup_dirs():
        for procs in top.rglob("cgroup.procs"):
            try:
                pids.update(int(line) for line in procs.read_text().split())
            except (FileNotFoundError, OSError, ValueError):
                continue
    return sorted(pids)


def kill_all(pids: Iterable[int], *, timeout: float = 10.0) -> None:
    """SIGKILL `pids` and wait until they are gone (or `timeout` passes)."""
    pending = set(pids)
    for pid in pending:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)}
        for pid in list(pending):
            _reap(pid)
        if pending:
            time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def mounts_under(roots: Iterable[Path]) -> list[str]:
    """Mount points below `roots`, deepest first (the order to unmount them in)."""
    prefixes = tuple(str(root).rstrip("/") + "/" for root in roots)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefixes):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(roots: Iterable[Path]) -> None:
    """Unmount everything below `roots`; a busy mount is detached lazily so the directory can go."""
    for point in mounts_under(list(roots)):
        if subprocess.run(["umount", point], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True, timeout=30)


def remove_pod_cgroups() -> None:
    """Remove the kubepods cgroup trees, innermost first (a cgroup can only go once it has no children)."""
    for top in pod_cgroup_dirs():
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(directory)
        _rmdir(top)


def _rmdir(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass


# Paths the kubelet and containerd's shim use whatever they are configured with.
KUBELET_DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")
CONTAINER_LOG_LINKS = Path("/var/log/containers")
RUNC_STATE = Path("/run/containerd/runc/k8s.io")  # runc's --root for the k8s.io namespace, fixed by containerd
SHIM_SOCKETS = Path("/run/containerd/s")  # the shims' sockets, fixed by containerd whatever its state dir
RUNTIME_DIRS = (RUNC_STATE, RUNC_STATE.parent, SHIM_SOCKETS, SHIM_SOCKETS.parent)


def _bundle_of(state_file: Path) -> str:
    """The bundle directory runc recorded for a container ('' when the state is unreadable)."""
    try:
        labels = json.loads(state_file.read_text())["config"].get("labels") or []
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return next((label.split("=", 1)[1] for label in labels if label.startswith("bundle=")), "")


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def remove_dead_runtime_state(roots: Iterable[Path]) -> None:
    """What a crash leaves at containerd's fixed paths: runc's state of our containers (their bundles are under
    `roots`) and shim sockets nobody listens on. Another runtime's live containers and shims are left alone."""
    prefixes = tuple(str(root) for root in roots)
    for state_file in RUNC_STATE.glob("*/state.json") if RUNC_STATE.is_dir() else []:
        if _bundle_of(state_file).startswith(prefixes):
            shutil.rmtree(state_file.parent, ignore_errors=True)
    for entry in SHIM_SOCKETS.iterdir() if SHIM_SOCKETS.is_dir() else []:
        if entry.is_socket() and not _listening(entry):
            entry.unlink(missing_ok=True)


def remove_fixed_path_leftovers(roots: Iterable[Path]) -> None:
    """Remove what the node leaves at fixed paths: log links into `roots`, the kubelet's device-plugin socket,
    runc's state and the shims' sockets of dead containers, and the runtime directories once empty (a directory
    another runtime still uses is not empty: it stays)."""
    roots = list(roots)  # read twice: the log links here, runc's state below
    prefixes = tuple(str(root) for root in roots)
    for link in CONTAINER_LOG_LINKS.glob("*.log") if CONTAINER_LOG_LINKS.is_dir() else []:
        if link.is_symlink() and str(link.readlink()).startswith(prefixes):
            link.unlink(missing_ok=True)
    (KUBELET_DEVICE_PLUGINS / "kubelet.sock").unlink(missing_ok=True)
    remove_dead_runtime_state(roots)
    for directory in (CONTAINER_LOG_LINKS, KUBELET_DEVICE_PLUGINS, KUBELET_DEVICE_PLUGINS.parent, *RUNTIME_DIRS):
        _rmdir(directory)
