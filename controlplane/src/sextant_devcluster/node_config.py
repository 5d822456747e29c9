"""The real node's configuration files and command lines, built as pure functions of the layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sextant_devcluster.layout import LOOPBACK, NODE_BRIDGE, NODE_IP, POD_CIDR, REAL_NODE_NAME, Layout

# Debian's packages (installed by `make deps`): runc and the CNI plugins.
RUNC = Path("/usr/sbin/runc")
CNI_BIN_DIR = Path("/usr/lib/cni")
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
KUBE_PROXY_HEALTHZ_PORT = 10256
KUBE_PROXY_METRICS_PORT = 10249
# Labels people and tests select the real node by (kubernetes.io/hostname works as well).
REAL_NODE_LABELS = {"type": "real", "node.sextant.io/accelerator": "none"}
CLUSTER_DOMAIN = "cluster.local"


def corefile(layout: Layout) -> str:
    """CoreDNS answers for the cluster's names only, on the node's address; no `forward`: a name outside the
    cluster is refused rather than sent to a resolver off this machine."""
    return f"""{CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {NODE_IP}
    errors
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {layout.kubeconfigs / 'coredns.yaml'}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loadbalance
}}
"""


def containerd_config(layout: Layout, sandbox_image: str, root: Path) -> str:
    """containerd v2's config (version 4): CRI on our CNI bridge, volatile state inside the state dir.

    `root` (content, snapshots, metadata) is the machine's image cache, shared by the clusters that take turns on
    the one real node: images are imported once per machine, not once per cluster (the archives are GBs).

    `restrict_oom_score_adj`: processes here lack CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj and every
    sandbox would fail with "can't get final child's PID from pipe" unless the CRI keeps the adjustment >= its own.
    """
    return f"""version = 4
root = "{root}"
state = "{layout.containerd_state}"

[plugins."io.containerd.server.v1.grpc"]
  address = "{layout.containerd_socket}"

[plugins."io.containerd.server.v1.ttrpc"]
  address = "{layout.containerd_socket}.ttrpc"

[plugins."io.containerd.server.v1.debug"]
  address = ""

[plugins."io.containerd.server.v1.metrics"]
  address = ""

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "{layout.node / 'registry'}"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{sandbox_image}"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{CNI_BIN_DIR}"]
    conf_dir = "{layout.cni_conf_dir}"
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "{LOOPBACK}"
  stream_server_port = "0"
"""


def cni_conflist(layout: Layout) -> dict[str, Any]:
    """One bridge network: pods get addresses in POD_CIDR, the bridge's gateway address is the node's."""
    return {
        "cniVersion": "1.0.0",
        "name": "sextant",
        "plugins": [
            {
                "type": "bridge",
                "bridge": NODE_BRIDGE,
                "isGateway": True,
                # No masquerading: pods talk to this machine and to each other, never past it.
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.cni_ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(layout: Layout) -> dict[str, Any]:
    """KubeletConfiguration for a node on this machine (cgroup v1 hybrid hierarchy, no systemd as PID 1)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK,
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(layout.pem("ca"))},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(layout.pem("kubelet-serving")),
        "tlsPrivateKeyFile": str(layout.pem("kubelet-serving-key")),
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "imageServiceEndpoint": f"unix://{layout.containerd_socket}",
        "podLogsDir": str(layout.pod_logs),
        # Pods resolve through CoreDNS on the node's address (cluster names only): no name server outside
        # this machine is ever asked, by pods (clusterDNS) or by the kubelet (no resolv.conf).
        "resolvConf": "",
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "failSwapOn": False,
        # Images are imported, never pulled: garbage-collecting them would break the next pod (they are pinned
        # too: node_images.PINNED_LABEL). Disk thresholds are sizes, not shares: 2% of a 252 GB disk is 5 GB,
        # and with image caches filling the rest the kubelet collected our images in the middle of a CI run.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1Gi", "imagefs.available": "1Gi"},
        "serializeImagePulls": False,
        "shutdownGracePeriod": "0s",
        "maxPods": 110,
        # Mounted ConfigMaps are refreshed at each pod sync: every 10 s here instead of every minute, so a
        # router sees new weights within seconds (on other clusters: within about a minute).
        "syncFrequency": "10s",
    }


def kube_proxy_config(layout: Layout) -> dict[str, Any]:
    """kube-proxy in iptables mode, leaving the machine's conntrack and route_localnet settings alone."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(layout.kubeconfigs / "kube-proxy.yaml")},
        "hostnameOverride": REAL_NODE_NAME,
        "clusterCIDR": POD_CIDR,
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"{LOOPBACK}:{KUBE_PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"{LOOPBACK}:{KUBE_PROXY_METRICS_PORT}",
        # NodePorts only on the node's bridge address, never on the machine's other interfaces.
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "syncPeriod": "30s", "minSyncPeriod": "0s"},
    }


def containerd_command(bin_dir: Path, layout: Layout) -> list[str]:
    return [str(bin_dir / "containerd"), f"--config={layout.node_file('containerd.toml')}"]


def kubelet_command(bin_dir: Path, layout: Layout) -> list[str]:
    labels = ",".join(f"{k}={v}" for k, v in sorted(REAL_NODE_LABELS.items()))
    return [
        str(bin_dir / "kubelet"),
        f"--config={layout.node_file('kubelet.yaml')}",
        f"--kubeconfig={layout.kubeconfigs / 'kubelet.yaml'}",
        f"--root-dir={layout.kubelet_root}",
        f"--hostname-override={REAL_NODE_NAME}",
        f"--node-ip={NODE_IP}",
        f"--node-labels={labels}",
        "--v=1",
    ]


def coredns_command(bin_dir: Path, layout: Layout) -> list[str]:
    return [str(bin_dir / "coredns"), "-conf", str(layout.node_file("Corefile"))]


def kube_proxy_command(bin_dir: Path, layout: Layout) -> list[str]:
    return [str(bin_dir / "kube-proxy"), f"--config={layout.node_file('kube-proxy.yaml')}", "--v=1"]


# Images are imported, never pulled: every registry resolves to a closed port on loopback, so a pod naming an
# image that was not imported fails at once (ErrImagePull) and nothing leaves this machine.
NO_PULL_HOSTS = f"""# Every registry: a closed port on this machine (images are imported, never pulled).
server = "https://{LOOPBACK}:9"
"""


def node_files(layout: Layout, sandbox_image: str, containerd_root: Path) -> dict[Path, str]:
    """Every configuration file the node's processes read, by path."""
    return {
        layout.node / "registry" / "_default" / "hosts.toml": NO_PULL_HOSTS,
        layout.node_file("containerd.toml"): containerd_config(layout, sandbox_image, containerd_root),
        layout.cni_conf_dir / "10-sextant.conflist": json.dumps(cni_conflist(layout), indent=2),
        layout.node_file("kubelet.yaml"): json.dumps(kubelet_config(layout), indent=2),
        layout.node_file("kube-proxy.yaml"): json.dumps(kube_proxy_config(layout), indent=2),
        layout.node_file("Corefile"): corefile(layout),
    }
