"""The machine-wide network state the real node needs (bridge, guard rules, sysctls), made and removed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from sextant_devcluster.layout import FAKE_NODE_IP, FAKE_POD_CIDR, NODE_BRIDGE, NODE_IP, POD_CIDR

# Settings the kubelet and the bridge plugin change with no option to leave them: saved before the node starts
# and written back when it stops.
SYSCTLS = (
    "vm.overcommit_memory",
    "kernel.panic",
    "kernel.panic_on_oops",
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.ipv4.conf.all.route_localnet",
)
# Chains the kubelet, kube-proxy, the CNI plugins and our guard create.
CHAIN_PREFIXES = ("KUBE-", "CNI-", "SEXTANT-")
GUARD_CHAIN = "SEXTANT-GUARD"
_TABLES = ("filter", "nat", "mangle")
_IPTABLES = ("iptables", "ip6tables")


class HostNetworkError(RuntimeError):
    """A command that changes the machine's network failed; the message has its output."""


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise HostNetworkError(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls(keys: Iterable[str] = SYSCTLS) -> dict[str, str]:
    """Current values of the keys this kernel has (a missing module's keys are left out)."""
    values = {}
    for key in keys:
        try:
            values[key] = _sysctl_path(key).read_text().strip()
        except FileNotFoundError:
            continue
    return values


def write_sysctls(values: Mapping[str, str]) -> None:
    for key, value in values.items():
        try:
            _sysctl_path(key).write_text(value)
        except FileNotFoundError:
            continue


def ensure_bridge() -> None:
    """Create the node's bridge with the node's address, so the API server can listen there before any pod."""
    if _run(["ip", "link", "show", NODE_BRIDGE], check=False).returncode != 0:
        _run(["ip", "link", "add", NODE_BRIDGE, "type", "bridge"])
    addresses = _run(["ip", "-4", "-o", "addr", "show", "dev", NODE_BRIDGE]).stdout
    prefix = POD_CIDR.split("/")[1]
    if f" {NODE_IP}/" not in addresses:
        _run(["ip", "addr", "add", f"{NODE_IP}/{prefix}", "dev", NODE_BRIDGE])
    _run(["ip", "link", "set", NODE_BRIDGE, "up"])


def delete_bridge() -> None:
    if _run(["ip", "link", "show", NODE_BRIDGE], check=False).returncode == 0:
        _run(["ip", "link", "delete", NODE_BRIDGE])


def guard_rules() -> list[list[str]]:
    """Rules that keep the cluster's traffic on this machine.

    kwok's fake pods and nodes have addresses nothing answers on (routed off the machine otherwise), and pods
    may talk to each other and to this machine but are never forwarded past it.
    """
    return [
        ["-d", FAKE_POD_CIDR, "-j", "REJECT"],
        ["-d", f"{FAKE_NODE_IP}/32", "-j", "REJECT"],
        ["-s", POD_CIDR, "!", "-d", POD_CIDR, "-j", "REJECT"],
    ]


def install_guard() -> None:
    """(Re)create the guard chain and jump to it first from OUTPUT and FORWARD."""
    remove_guard()
    _run(["iptables", "-N", GUARD_CHAIN])
    for rule in guard_rules():
        _run(["iptables", "-A", GUARD_CHAIN, *rule])
    for hook in ("OUTPUT", "FORWARD"):
        _run(["iptables", "-I", hook, "1", "-j", GUARD_CHAIN])


def remove_guard() -> None:
    purge_chains(prefixes=(GUARD_CHAIN,), commands=("iptables",))


def _rules(command: str, table: str) -> list[list[str]]:
    result = _run([command, "-t", table, "-S"], check=False)
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def chains_to_purge(rules: list[list[str]], prefixes: tuple[str, ...]) -> tuple[list[list[str]], list[str]]:
    """From `iptables -S` output: the rules to delete (jumps into our chains from others) and our chains.

    Pure, so the decision is tested without touching the machine.
    """
    ours = [r[1] for r in rules if len(r) >= 2 and r[0] == "-N" and r[1].startswith(prefixes)]
    jumps = [
        ["-D", *r[1:]] for r in rules
        if len(r) >= 2 and r[0] == "-A" and not r[1].startswith(prefixes)
        and any(r[i] in ("-j", "-g") and i + 1 < len(r) and r[i + 1] in ours for i in range(len(r)))
    ]
    return jumps, ours


def purge_chains(prefixes: tuple[str, ...] = CHAIN_PREFIXES, commands: tuple[str, ...] = _IPTABLES) -> None:
    """Delete the chains whose names start with `prefixes` and every rule that jumps to them, in every table.

    A command the machine lacks is skipped: no rule of ours can exist without it (a fresh machine before
    `make deps`, where `make cluster-down` must still work).
    """
    for command in commands:
        if shutil.which(command) is None:
            continue
        for table in _TABLES:
            jumps, ours = chains_to_purge(_rules(command, table), prefixes)
            for rule in jumps:
                _run([command, "-t", table, *rule], check=False)
            for chain in ours:
                _run([command, "-t", table, "-F", chain], check=False)
            for chain in ours:
                _run([command, "-t", table, "-X", chain], check=False)


def leftover_chains(prefixes: tuple[str, ...] = CHAIN_PREFIXES) -> list[str]:
    """`command/table/chain` for every chain of ours still present (empty after a clean stop)."""
    found = []
    for command in _IPTABLES:
        for table in _TABLES:
            _, ours = chains_to_purge(_rules(command, table), prefixes)
            found += [f"{command}/{table}/{chain}" for chain in ours]
    return found
