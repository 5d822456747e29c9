"""One real node per machine: a record of which cluster owns the machine-wide node state, claimed under a lock."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_RECORD_DIR = Path(os.environ.get("SEXTANT_NODE_LOCK_DIR", "/run/sextant"))


class NodeTaken(RuntimeError):
    """Another cluster's real node runs on this machine; the message says which and how to stop it."""


@dataclass
class Ownership:
    """Who holds the machine's real node, and the machine settings to write back when it stops."""

    state_dir: str
    pids: list[int] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def is_live(owner: Ownership) -> bool:
    """True while any process the owner recorded (containerd, kubelet, kube-proxy) still runs."""
    return any(pid_alive(pid) for pid in owner.pids)


class NodeRecord:
    """The ownership record under `directory` (default /run/sextant, gone after a reboot like the node)."""

    def __init__(self, directory: Path = DEFAULT_RECORD_DIR) -> None:
        self.directory = directory
        self.path = directory / "real-node.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise readers and writers of the record (two `up`s at once must not both claim the node)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "real-node.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> Ownership | None:
        try:
            return Ownership(**json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def write(self, owner: Ownership) -> None:
        self.path.write_text(json.dumps(asdict(owner), indent=2) + "\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def check_free(current: Ownership | None, state_dir: Path) -> None:
    """Raise NodeTaken when a live node of another state directory holds the machine."""
    if current is not None and current.state_dir != str(state_dir) and is_live(current):
        raise NodeTaken(
            f"this machine's real node is taken by the cluster in {current.state_dir} (pids "
            f"{', '.join(map(str, current.pids))}); one real node runs per machine at a time. Stop that one "
            f"(`sextant-devcluster down --state-dir {current.state_dir}`, or `make cluster-down` in its checkout), "
            "or reuse it for tests with SEXTANT_TEST_CLUSTER_DIR, or start this cluster without a real node "
            "(SEXTANT_REAL_NODE=0).")
