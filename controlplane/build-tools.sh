#!/usr/bin/env bash
# Builds the control-plane and chart tools from the Go module proxy at the versions pinned in
# controlplane/tools/*/go.mod, into a cache keyed by tool, version and go.sum hash, so a second
# run (or a second clone on the same machine) does not rebuild. Prints the bin directory.
#
# Usage: controlplane/build-tools.sh [tool ...]      (default: all tools)
# Env:   SEXTANT_CACHE   cache root (default ~/.cache/sextant)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SEXTANT_CACHE:-$HOME/.cache/sextant}
bindir="$cache/bin"
mkdir -p "$bindir"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-tools] %s\n' "$*" >&2; }

require_go() {
  command -v go >/dev/null || { log "go not found: install Go >= 1.26 (apt-get install golang-go is too old; see docs/development.md)"; exit 1; }
}

# module_version DIR MODULE -> the version DIR/go.mod requires for MODULE
module_version() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# build TOOL_DIR OUTPUT_NAME PACKAGE [LDFLAGS] [TAGS]
build() {
  local dir="$here/tools/$1" name=$2 pkg=$3 ldflags=${4:-} tags=${5:-}
  local key; key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-12)
  local target="$bindir/$name-$key"
  if [[ ! -x "$target" ]]; then
    log "building $name ($pkg) — first build takes minutes; later runs reuse $target"
    local start=$SECONDS
    (cd "$dir" && go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$target.tmp" "$pkg")
    mv "$target.tmp" "$target"
    log "built $name in $((SECONDS - start)) s"
  fi
  ln -sfn "$target" "$bindir/$name"
}

kubernetes_ldflags() {
  local v; v=$(module_version "$here/tools/kubernetes" k8s.io/kubernetes)
  local minor; minor=$(echo "$v" | cut -d. -f2)
  local f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$f"
}

# kwok ships its stage definitions (node initialise/heartbeat, pod ready/complete/delete) as data in its
# module; the kwok binary only loads stages from a config file, so assemble one from the pinned module.
kwok_stages() {
  local dir="$here/tools/kwok" v; v=$(module_version "$dir" sigs.k8s.io/kwok)
  local target="$bindir/kwok-stages-$v.yaml"
  if [[ ! -f "$target" ]]; then
    local src; src=$(cd "$dir" && go mod download -json "sigs.k8s.io/kwok@$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    local stages="$src/kustomize/stage"
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      printf -- '---\n'; cat "$stages/$f"
    done > "$target.tmp"
    mv "$target.tmp" "$target"
    log "assembled kwok stages from sigs.k8s.io/kwok@$v"
  fi
  ln -sfn "$target" "$bindir/kwok-stages.yaml"
}

build_tool() {
  case $1 in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet|kube-proxy)
      build kubernetes "$1" "k8s.io/kubernetes/cmd/$1" "$(kubernetes_ldflags)" ;;
    etcd) build etcd etcd go.etcd.io/etcd/server/v3 ;;
    # The real node's runtime: containerd v2 (its CRI plugin, the runc shim, ctr); runc and the CNI plugins
    # come from Debian. No btrfs/devmapper/zfs snapshotters: overlayfs is the one the node uses.
    containerd|containerd-shim-runc-v2|ctr)
      local v; v=$(module_version "$here/tools/containerd" github.com/containerd/containerd/v2)
      build containerd "$1" "github.com/containerd/containerd/v2/cmd/$1" \
        "-X github.com/containerd/containerd/v2/version.Version=$v" "no_btrfs no_devmapper no_zfs" ;;
    kwok) build kwok kwok sigs.k8s.io/kwok/cmd/kwok; kwok_stages ;;
    # Cluster DNS for the real node's pods (kubernetes.default.svc, <service>.<namespace>.svc).
    coredns) build coredns coredns github.com/coredns/coredns ;;
    helm)
      local v; v=$(module_version "$here/tools/helm" helm.sh/helm/v3)
      build helm helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$v" ;;
    kubeconform) build kubeconform kubeconform github.com/yannh/kubeconform/cmd/kubeconform ;;
    # the embedded artifact store (docs/artifact-store.md): an S3 gateway over a directory
    versitygw)
      local v; v=$(module_version "$here/tools/versitygw" github.com/versity/versitygw)
      build versitygw versitygw github.com/versity/versitygw/cmd/versitygw "-X main.Version=$v" ;;
    # The resource metrics API (metrics.k8s.io) for HPAs on CPU and `kubectl top`, scraping the real node's
    # kubelet (docs/development.md, "Autoscaling").
    metrics-server)
      local v; v=$(module_version "$here/tools/metrics-server" sigs.k8s.io/metrics-server)
      build metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
        "-X k8s.io/client-go/pkg/version.gitVersion=$v" ;;
    *) log "unknown tool '$1'"; exit 2 ;;
  esac
}

all_tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl helm kubeconform versitygw
           kubelet kube-proxy containerd containerd-shim-runc-v2 ctr coredns metrics-server)
require_go
for tool in "${@:-${all_tools[@]}}"; do build_tool "$tool"; done
echo "$bindir"
