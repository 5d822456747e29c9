"""`sextant-devcluster up|down|reset|status|env`: the local control plane for people (`make cluster`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from sextant_devcluster.cluster import ClusterError, LocalCluster
from sextant_devcluster.profiles import PROFILES, profile_named

DEFAULT_BIN_DIR = Path(os.environ.get("SEXTANT_CACHE", Path.home() / ".cache" / "sextant")) / "bin"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sextant-devcluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "reset", "status", "env", "spawn"])
    parser.add_argument("spawn_argv", nargs="*", metavar="NAME -- ARGV",
                        help="for spawn: a name, then the command to run beside the cluster (stopped by down)")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("SEXTANT_CLUSTER_DIR", ".cluster")),
                        help="where certificates, etcd data, logs and the kubeconfig live (default: .cluster)")
    parser.add_argument("--bin-dir", type=Path, default=DEFAULT_BIN_DIR,
                        help="where controlplane/build-tools.sh put the binaries")
    parser.add_argument("--images", type=Path, default=Path("build/images.json"),
                        help="the image index `make images` writes (imported into the real node)")
    parser.add_argument("--no-real-node", action="store_true", default=not real_node_wanted(os.environ),
                        help="only kwok fake nodes, no root needed (default when SEXTANT_REAL_NODE=0); "
                             "fixed when the state directory is created")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default",
                        help="headroom beyond the default cluster: `scale` adds large fake nodes, a /16 Service "
                             "range and a faster controller-manager client (docs/development.md)")
    return parser


def real_node_wanted(env: Mapping[str, str]) -> bool:
    """SEXTANT_REAL_NODE=0 (or false/no) starts clusters without the real node."""
    return env.get("SEXTANT_REAL_NODE", "1").strip().lower() not in ("0", "false", "no")


REAL_NODE_HINT = """
Pods run on the real node (sextant-node-0); the kwok nodes are tainted: a pod opts into them with
  tolerations: [{key: kwok.x-k8s.io/node, operator: Equal, value: fake, effect: NoSchedule}]
  nodeSelector: {type: kwok}"""


def _print_usage_hint(cluster: LocalCluster) -> None:
    print(f"""
The local control plane is ready at {cluster.server}
  export KUBECONFIG={cluster.kubeconfig}
  export PATH={cluster.bin_dir}:$PATH      # kubectl, helm, kubeconform built by `make tools`
  kubectl get nodes{REAL_NODE_HINT if cluster.node is not None else ""}
Logs: {cluster.layout.logs}/   Stop: make cluster-down   Start afresh: make cluster-reset""")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cluster = LocalCluster(state_dir=args.state_dir, bin_dir=args.bin_dir, real_node=not args.no_real_node,
                           image_index=args.images, profile=profile_named(args.profile))
    try:
        if args.command == "up":
            if not args.no_real_node and cluster.node is None:
                print(f"note: {cluster.state_dir} was created without a real node, so it starts without one; "
                      "`make cluster-reset` (or `reset`) and `up` again to get it", file=sys.stderr)
            seconds = cluster.up()
            print(f"control plane ready in {seconds:.1f} s")
            _print_usage_hint(cluster)
        elif args.command == "down":
            stopped = cluster.down()
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        elif args.command == "reset":
            cluster.reset()
            print(f"stopped the cluster and removed {cluster.state_dir}")
        elif args.command == "status":
            for component, pid in cluster.status().items():
                print(f"{component:<24} {f'running (pid {pid})' if pid else 'stopped'}")
        elif args.command == "spawn":
            if len(args.spawn_argv) < 2:
                raise ClusterError("spawn needs a name and a command: spawn NAME -- COMMAND [ARGS...]")
            name, *argv = args.spawn_argv
            pid = cluster.spawn(name, argv, env={"KUBECONFIG": str(cluster.kubeconfig)})
            print(f"{name} running (pid {pid}); log: {cluster.layout.log(name)}")
        else:
            print(f"export KUBECONFIG={cluster.kubeconfig}\nexport PATH={cluster.bin_dir}:$PATH")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
