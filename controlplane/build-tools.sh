#!/usr/bin/env bash
# Builds the control-plane and chart tools from the Go module proxy at the versions pinned in
# controlplane/tools/*/go.mod, into a cache keyed by tool, version and go.sum hash, so a second
# run (or a second clone on the same machine) does not rebuild. Prints the bin directory.
#
# Usage: controlplane/build-tools.sh [tool ...]      (default: all tools but the optional traefik and
#                                                    gateway-api-crds, and the monitoring tools prometheus,
#                                                    promtool and prometheus-operator-crds)
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

# module_dir TOOL_DIR MODULE -> the module cache directory of the version TOOL_DIR/go.mod pins (checked against
# its go.sum)
module_dir() {
  local v; v=$(module_version "$here/tools/$1" "$2")
  (cd "$here/tools/$1" && go mod download -json "$2@$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}

# Traefik Proxy (the local cluster's Gateway API implementation) cannot be built as a dependency: its go.mod
# replaces modules the proxy does not serve (a nested module of its own repository, a fork of go-http-auth), and
# its ACME DNS providers import SDKs the proxy refuses. So build inside a copy of the pinned module, patched:
# the nested module `dynamic/ext` (empty extension structs) written here, the go-http-auth fork at a 2020
# version the proxy serves (it has the CheckSecret and RequireAuthStale Traefik calls; only the basicAuth and
# digestAuth middlewares use it; v0.4.0 of the original lacks both), the ACME DNS-challenge providers left out (`dnsChallenge` answers "not in this build"; the HTTP and TLS challenges stay), and a one-page web UI
# in place of the dashboard's built assets (a Node build). The cache key covers this function's text.
build_traefik() {
  local dir="$here/tools/traefik" v; v=$(module_version "$dir" github.com/traefik/traefik/v3)
  local key; key=$( (cat "$dir/go.mod" "$dir/go.sum"; declare -f build_traefik) | sha256sum | cut -c1-12)
  local target="$bindir/traefik-$key"
  if [[ ! -x "$target" ]]; then
    log "building traefik $v (patched copy) — first build takes many minutes; later runs reuse $target"
    local start=$SECONDS src work="$cache/src/traefik-$v-$key"
    src=$(module_dir traefik github.com/traefik/traefik/v3)
    rm -rf "$work" && mkdir -p "$cache/src" && cp -r "$src" "$work" && chmod -R u+w "$work"
    mkdir -p "$work/pkg/config/dynamic/ext" "$work/webui/static"
    printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' > "$work/pkg/config/dynamic/ext/go.mod"
    cat > "$work/pkg/config/dynamic/ext/ext.go" <<'EOF'
// Package ext holds the extension points of Traefik's dynamic configuration (empty in the open-source build).
package ext

type HTTP struct{}

type Router struct{}

type RouterIng struct{}

func (r RouterIng) ToRouter() Router { return Router{} }
EOF
    printf '<!doctype html><title>Traefik</title><p>Dashboard assets are not part of this build.\n' \
      > "$work/webui/static/index.html"
    local acme="$work/pkg/provider/acme/provider.go"
    grep -q 'dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)' "$acme" \
      || { log "traefik $v: the ACME DNS-provider call moved; update build_traefik"; exit 1; }
    sed -i -e '/^\t"github.com\/go-acme\/lego\/v5\/providers\/dns"$/d' \
      -e 's|dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)|nil, fmt.Errorf("ACME DNS challenge provider %q: not in this build", p.DNSChallenge.Provider)|' "$acme"
    local auth=github.com/containous/go-http-auth auth_v=v0.4.1-0.20200324110947-a37a7636d23e
    (cd "$work" && go mod edit -replace "github.com/abbot/go-http-auth=$auth@$auth_v" \
      && printf '%s\n' "$auth $auth_v h1:D+uTEzDZc1Fhmd0Pq06c+O9+KkAyExw0eVmu/NOqaHU=" \
        "$auth $auth_v/go.mod h1:s8kLgBQolDbsJOPVIGCEEv9zGAKUUf/685Gi0Qqg8z8=" >> go.sum \
      && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v" \
        -o "$target.tmp" ./cmd/traefik)
    mv "$target.tmp" "$target"
    rm -rf "$work"
    log "built traefik in $((SECONDS - start)) s"
  fi
  ln -sfn "$target" "$bindir/traefik"
}

# The Gateway API CRDs of the standard channel (and the upgrade-guarding ValidatingAdmissionPolicy that ships
# with them), from the pinned sigs.k8s.io/gateway-api module, as one file for kubectl apply.
gateway_api_crds() {
  local v; v=$(module_version "$here/tools/gateway-api" sigs.k8s.io/gateway-api)
  local target="$bindir/gateway-api-crds-$v.yaml"
  if [[ ! -f "$target" ]]; then
    local src; src=$(module_dir gateway-api sigs.k8s.io/gateway-api)
    for f in "$src"/config/crd/standard/*.yaml; do printf -- '---\n'; cat "$f"; done > "$target.tmp"
    mv "$target.tmp" "$target"
    log "assembled the Gateway API CRDs (standard channel) from sigs.k8s.io/gateway-api@$v"
  fi
  ln -sfn "$target" "$bindir/gateway-api-crds.yaml"
}

# kfp_work_copy TOOL_DIR WORK: a Go work copy of TOOL_DIR (go.mod, go.sum, tools.go) whose replaced KFP submodules
# `api` and `kubernetes_platform` are regenerated under WORK/gen: the base versions from the proxy, their .pb.go
# rewritten by Debian's protoc and protoc-gen-go (at the version the backend requires) from the descriptors in the
# release's PyPI wheels (tools/kfp/wheels.txt, hash-pinned; the well-known and google.rpc descriptors from the
# project's venv).
kfp_work_copy() {
  local dir=$1 work=$2 kfp="$here/tools/kfp" site
  command -v protoc >/dev/null || { log "protoc not found: make deps installs protobuf-compiler"; exit 1; }
  local py=${SEXTANT_PY:-$here/../.venv/bin/python}
  [[ -x "$py" ]] || { log "$py not found: run make venv first (its protobuf descriptors are inputs)"; exit 1; }
  export GONOSUMDB=github.com/kubeflow/pipelines
  rm -rf "$work" && mkdir -p "$work/wheels" "$work/gen" "$work/bin"
  cp "$dir/go.mod" "$dir/go.sum" "$dir/tools.go" "$work/"
  python3.11 -m pip download -q --no-deps --require-hashes -r "$kfp/wheels.txt" -d "$work/wheels"
  (cd "$work/wheels" && for w in *.whl; do python3.11 -m zipfile -e "$w" .; done)
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  python3.11 "$kfp/descriptor_set.py" "$work/descriptors.pb" "$site/google/protobuf/any_pb2.py" \
    "$site/google/protobuf/duration_pb2.py" "$site/google/protobuf/struct_pb2.py" "$site/google/rpc/status_pb2.py" \
    "$work/wheels/kfp/pipeline_spec/pipeline_spec_pb2.py" \
    "$work/wheels/kfp/kubernetes/kubernetes_executor_config_pb2.py"
  local pgg; pgg=$(module_version "$kfp" google.golang.org/protobuf)
  GOBIN="$work/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${pgg:-v1.36.6}"
  local sub proto
  for sub in api:pipeline_spec.proto kubernetes_platform:kubernetes_executor_config.proto; do
    proto=${sub#*:}; sub=${sub%%:*}
    cp -r "$(module_dir kfp "github.com/kubeflow/pipelines/$sub")" "$work/gen/$sub" && chmod -R u+w "$work/gen/$sub"
    PATH="$work/bin:$PATH" protoc --descriptor_set_in="$work/descriptors.pb" \
      --go_out="$work/gen/$sub" --go_opt="module=github.com/kubeflow/pipelines/$sub" "$proto"
  done
}

# Kubeflow Pipelines' API server and persistence agent (the kubeflow TrainingJob backend's tests, docs/pipelines.md)
# at the release pinned in tools/kfp/go.mod. The proxy serves the backend by commit pseudo-version but no
# matching version of its two generated protobuf submodules, so they are regenerated in a work copy
# (kfp_work_copy). The checksum database does not know the pseudo-versions:
# go.sum pins them. The API server needs cgo (sqlite3); the agent does not. The cache key covers this function.
build_kfp() {
  local dir="$here/tools/kfp"
  local key; key=$( (cat "$dir/go.mod" "$dir/go.sum" "$dir/wheels.txt" "$dir/descriptor_set.py"
                      declare -f build_kfp kfp_work_copy) \
    | sha256sum | cut -c1-12)
  if [[ -x "$bindir/kfp-apiserver-$key" && -x "$bindir/kfp-persistence-agent-$key" ]]; then
    ln -sfn "$bindir/kfp-apiserver-$key" "$bindir/kfp-apiserver"
    ln -sfn "$bindir/kfp-persistence-agent-$key" "$bindir/kfp-persistence-agent"
    return
  fi
  log "building the KFP API server and persistence agent — first build takes 5-10 minutes; later runs reuse them"
  local start=$SECONDS work="$cache/src/kfp-$key"
  kfp_work_copy "$dir" "$work"
  (cd "$work" && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$work" && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$bindir/kfp-apiserver-$key.tmp" \
      github.com/kubeflow/pipelines/backend/src/apiserver \
    && go build -trimpath -ldflags "-s -w" -o "$bindir/kfp-persistence-agent-$key.tmp" \
      github.com/kubeflow/pipelines/backend/src/agent/persistence)
  cmp -s "$work/go.sum" "$dir/go.sum" || log "tools/kfp/go.sum differs from the build's; copy $work/go.sum to pin it"
  mv "$bindir/kfp-apiserver-$key.tmp" "$bindir/kfp-apiserver-$key"
  mv "$bindir/kfp-persistence-agent-$key.tmp" "$bindir/kfp-persistence-agent-$key"
  rm -rf "$work/wheels" "$work/gen"
  log "built the KFP API server and persistence agent in $((SECONDS - start)) s"
  ln -sfn "$bindir/kfp-apiserver-$key" "$bindir/kfp-apiserver"
  ln -sfn "$bindir/kfp-persistence-agent-$key" "$bindir/kfp-persistence-agent"
}

# What executes a KFP run on the real node (make kfp-exec-tools; docs/pipelines.md): Argo Workflows' controller
# and executor (argoexec) at the version KFP 2.14.3 pins, and KFP's driver and launcher, from one wrapper module
# (tools/kfp-exec) with the same regenerated submodules as build_kfp. argoexec's signal_linux.go is a symlink
# upstream and module zips drop symlinks, so the pinned Argo module is copied to argo/ in the work copy with the
# file restored from the signal_darwin.go it links to. All four are static (no cgo). The key covers this function.
build_kfp_exec() {
  local dir="$here/tools/kfp-exec" names=(argo-workflow-controller argoexec kfp-driver kfp-launcher)
  local key; key=$( (cat "$dir/go.mod" "$dir/go.sum" "$dir/tools.go" "$here/tools/kfp/wheels.txt" \
    "$here/tools/kfp/descriptor_set.py"; declare -f build_kfp_exec kfp_work_copy) | sha256sum | cut -c1-12)
  local name missing=""
  for name in "${names[@]}"; do [[ -x "$bindir/$name-$key" ]] || missing=1; done
  if [[ -n "$missing" ]]; then
    log "building Argo's workflow controller and executor and KFP's driver and launcher — the first build takes minutes"
    local start=$SECONDS work="$cache/src/kfp-exec-$key" argo
    kfp_work_copy "$dir" "$work"
    argo=$(module_dir kfp github.com/argoproj/argo-workflows/v3)
    cp -r "$argo" "$work/argo" && chmod -R u+w "$work/argo"
    local os="$work/argo/workflow/executor/os-specific"
    [[ -e "$os/signal_linux.go" ]] || cp "$os/signal_darwin.go" "$os/signal_linux.go"
    local pkg out
    for pair in argo-workflow-controller:github.com/argoproj/argo-workflows/v3/cmd/workflow-controller \
                argoexec:github.com/argoproj/argo-workflows/v3/cmd/argoexec \
                kfp-driver:github.com/kubeflow/pipelines/backend/src/v2/cmd/driver \
                kfp-launcher:github.com/kubeflow/pipelines/backend/src/v2/cmd/launcher-v2; do
      out=${pair%%:*} pkg=${pair#*:}
      (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$bindir/$out-$key.tmp" "$pkg")
      mv "$bindir/$out-$key.tmp" "$bindir/$out-$key"
    done
    cmp -s "$work/go.sum" "$dir/go.sum" \
      || log "tools/kfp-exec/go.sum differs from the build's; copy $work/go.sum to pin it"
    rm -rf "$work/wheels" "$work/gen" "$work/argo"
    log "built Argo's controller and executor and KFP's driver and launcher in $((SECONDS - start)) s"
  fi
  for name in "${names[@]}"; do ln -sfn "$bindir/$name-$key" "$bindir/$name"; done
}

# Argo Workflows' own manifests for executing runs, from the pinned module (the version tools/kfp-exec requires), in
# $bindir/argo-manifests-<version>/: every CRD of the minimal set (the controller watches templates, task results
# and task sets besides Workflows), the namespaced controller's Role and binding (ServiceAccount `argo`) and the
# emissary executor's Role bound to the namespace's `default` ServiceAccount, for `kubectl apply -n`.
argo_manifests() {
  local v; v=$(module_version "$here/tools/kfp-exec" github.com/argoproj/argo-workflows/v3)
  local target="$bindir/argo-manifests-$v"
  if [[ ! -d "$target" ]]; then
    local src; src=$(module_dir kfp github.com/argoproj/argo-workflows/v3)
    rm -rf "$target.tmp" && mkdir -p "$target.tmp"
    for f in "$src"/manifests/base/crds/minimal/argoproj.io_*.yaml; do printf -- '---\n'; cat "$f"; done \
      > "$target.tmp/crds.yaml"
    for f in "$src"/manifests/namespace-install/workflow-controller-rbac/workflow-controller-role*.yaml \
             "$src"/manifests/quick-start/base/executor/emissary/executor-role.yaml \
             "$src"/manifests/quick-start/base/executor-default-rolebinding.yaml; do
      printf -- '---\n'; cat "$f"
    done > "$target.tmp/rbac.yaml"
    chmod -R u+w "$target.tmp" && mv "$target.tmp" "$target"
    log "assembled Argo's CRDs and namespaced RBAC from github.com/argoproj/argo-workflows/v3@$v"
  fi
  ln -sfn "$target" "$bindir/argo-manifests"
}

# The CRDs KFP's API server and persistence agent need in the cluster: Argo's Workflow (the minimal schema, at the
# argo-workflows version KFP's go.sum pins; the API server creates one per run) and KFP's ScheduledWorkflow (the
# agent waits for its informer), as one file for kubectl apply. Not Argo's controller.
kfp_crds() {
  local v; v=$(awk '$1 == "github.com/argoproj/argo-workflows/v3" && $2 !~ /go.mod/ { print $2; exit }' \
    "$here/tools/kfp/go.sum")
  [[ -n "$v" ]] || { log "tools/kfp/go.sum pins no github.com/argoproj/argo-workflows/v3"; exit 1; }
  local kv; kv=$(module_version "$here/tools/kfp" github.com/kubeflow/pipelines)
  local target="$bindir/kfp-crds-${kv##*-}-$v.yaml"
  if [[ ! -f "$target" ]]; then
    local argo kfp
    argo=$(cd "$here/tools/kfp" && GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-workflows/v3@$v" \
      | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    kfp=$(cd "$here/tools/kfp" && GONOSUMDB=github.com/kubeflow/pipelines GOFLAGS=-mod=mod \
      go mod download -json "github.com/kubeflow/pipelines@$kv" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    for f in "$argo/manifests/base/crds/minimal/argoproj.io_workflows.yaml" \
             "$kfp/manifests/kustomize/base/pipeline/cluster-scoped/scheduled-workflow-crd.yaml"; do
      printf -- '---\n'; cat "$f"
    done > "$target.tmp"
    mv "$target.tmp" "$target"
    log "assembled the Workflow (argo-workflows $v) and ScheduledWorkflow (KFP) CRDs"
  fi
  ln -sfn "$target" "$bindir/kfp-crds.yaml"
}

# The Prometheus Operator's CRDs the chart's monitoring objects use (ServiceMonitor, PodMonitor, PrometheusRule),
# from the pinned github.com/prometheus-operator/prometheus-operator module, as one file: the chart tests validate
# the rendered objects against their schemas (nothing is installed into the local cluster).
prometheus_operator_crds() {
  local v; v=$(module_version "$here/tools/prometheus-operator-crds" github.com/prometheus-operator/prometheus-operator)
  local target="$bindir/prometheus-operator-crds-$v.yaml"
  if [[ ! -f "$target" ]]; then
    local src; src=$(module_dir prometheus-operator-crds github.com/prometheus-operator/prometheus-operator)
    for kind in servicemonitors podmonitors prometheusrules; do
      printf -- '---\n'; cat "$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml"
    done > "$target.tmp"
    mv "$target.tmp" "$target"
    log "assembled the Prometheus Operator CRDs from github.com/prometheus-operator/prometheus-operator@$v"
  fi
  ln -sfn "$target" "$bindir/prometheus-operator-crds.yaml"
}

# KServe's manifests the scale benchmark applies, from the pinned github.com/kserve/kserve module (not from
# GitHub): its serving CRDs (config/crd/full, with the storage-container and local-model ones its manager
# watches), the inferenceservice-config ConfigMap as shipped (the benchmark sets Standard mode and no ingress),
# the sklearn ClusterServingRuntime and the manager's ServiceAccount, ClusterRole and binding, each as one file in
# $bindir/kserve-manifests-<version>/.
kserve_manifests() {
  local v; v=$(module_version "$here/tools/kserve" github.com/kserve/kserve)
  local target="$bindir/kserve-manifests-$v"
  if [[ ! -d "$target" ]]; then
    local src; src=$(module_dir kserve github.com/kserve/kserve)
    rm -rf "$target.tmp" && mkdir -p "$target.tmp"
    for f in "$src"/config/crd/full/serving.kserve.io_*.yaml "$src"/config/crd/full/clusterstoragecontainer/serving.kserve.io_*.yaml \
             "$src"/config/crd/full/localmodel/serving.kserve.io_*.yaml; do
      printf -- '---\n'; cat "$f"
    done > "$target.tmp/crds.yaml"
    cp "$src/config/configmap/inferenceservice.yaml" "$target.tmp/inferenceservice-config.yaml"
    cp "$src/config/runtimes/kserve-sklearnserver.yaml" "$target.tmp/sklearn-runtime.yaml"
    for f in service_account role role_binding; do printf -- '---\n'; cat "$src/config/rbac/$f.yaml"; done \
      > "$target.tmp/rbac.yaml"
    chmod -R u+w "$target.tmp" && mv "$target.tmp" "$target"
    log "assembled KServe's CRDs, ConfigMap and sklearn runtime from github.com/kserve/kserve@$v"
  fi
  ln -sfn "$target" "$bindir/kserve-manifests"
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
    # Optional, not in the default set: the Gateway API in the local cluster (docs/serving.md)
    traefik) build_traefik ;;
    gateway-api-crds) gateway_api_crds ;;
    # Optional: Kubeflow Pipelines' API server and persistence agent (make kfp-tools; docs/pipelines.md)
    kfp) build_kfp; kfp_crds ;;
    # Optional: what executes a KFP run on the real node (make kfp-exec-tools; docs/pipelines.md)
    kfp-exec) build_kfp_exec; argo_manifests ;;
    # The resource metrics API (metrics.k8s.io) for HPAs on CPU and `kubectl top`, scraping the real node's
    # kubelet (docs/development.md, "Autoscaling").
    metrics-server)
      local v; v=$(module_version "$here/tools/metrics-server" sigs.k8s.io/metrics-server)
      build metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
        "-X k8s.io/client-go/pkg/version.gitVersion=$v" ;;
    # Optional, not in the default set: Prometheus and promtool for the monitoring tests (docs/monitoring.md,
    # "Prometheus and Grafana"). Built with only the Kubernetes and static service discovery (remove_all_sd
    # enable_kubernetes_sd: the cloud SDKs would triple the build) and without the web UI's built assets
    # (no builtinassets tag: those need a Node build; the HTTP API, which is all the tests and Grafana use,
    # is unaffected, and / answers that the UI is not part of the build).
    prometheus|promtool)
      # the Go module v0.316.0 is Prometheus 3.16.0
      local v; v=$(module_version "$here/tools/prometheus" github.com/prometheus/prometheus \
        | awk -F. '{ printf "%d.%d.%s", $2 / 100, $2 % 100, $3 }')
      build prometheus "$1" "github.com/prometheus/prometheus/cmd/$1" \
        "-X github.com/prometheus/common/version.Version=$v" "remove_all_sd enable_kubernetes_sd" ;;
    prometheus-operator-crds) prometheus_operator_crds ;;
    # Optional: KEDA's operator (ScaledObjects to HPAs; the Prometheus scaler) and its metrics adapter (the
    # external metrics API the HPA controller reads). Its go.mod's one replace is repeated in tools/keda/go.mod.
    keda-operator|keda-adapter)
      local v; v=$(module_version "$here/tools/keda" github.com/kedacore/keda/v2)
      build keda "$1" "github.com/kedacore/keda/v2/cmd/${1#keda-}" "-X github.com/kedacore/keda/v2/version.Version=$v" ;;
    # Optional (make kserve-tools): KServe's InferenceService controller, the operator scale benchmark's anchor
    # (docs/scale.md), and its CRDs, ConfigMap and sklearn runtime from the same module.
    kserve)
      build kserve kserve-manager github.com/kserve/kserve/cmd/manager
      kserve_manifests ;;
    *) log "unknown tool '$1'"; exit 2 ;;
  esac
}

all_tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl helm kubeconform versitygw
           kubelet kube-proxy containerd containerd-shim-runc-v2 ctr coredns metrics-server)
require_go
for tool in "${@:-${all_tools[@]}}"; do build_tool "$tool"; done
echo "$bindir"
