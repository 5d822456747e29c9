# Sextant — every entry point a person or CI needs. Each target installs what it needs by itself:
#   Python packages from uv.lock, Go tools from the Go module proxy at pinned versions, Debian
#   packages with apt-get when missing. Nothing else is downloaded.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION    := 0.13.8
SEXTANT_CACHE ?= $(HOME)/.cache/sextant
BIN_DIR       := $(SEXTANT_CACHE)/bin
UV            := $(SEXTANT_CACHE)/uv-$(UV_VERSION)/bin/uv
VENV          := .venv
PY            := $(VENV)/bin/python
PYTEST        := $(VENV)/bin/pytest
CLUSTER_DIR   ?= .cluster
# Debian packages the targets need, installed when the command is missing (command:package); `images` uses
# buildah, runc, debootstrap and gcc (apt installs gcc with its recommended libc6-dev, which -static needs); the
# real node runc, the CNI plugins, iptables, conntrack and iproute2; `kfp-tools` protoc, and its tests MariaDB
# (mariadb-install-db runs my_print_defaults, which is in the client core package, not the server core).
APT_NEEDS     := git:git curl:curl nginx:nginx-light buildah:buildah runc:runc debootstrap:debootstrap gcc:gcc \
                 /usr/lib/cni/bridge:containernetworking-plugins iptables:iptables conntrack:conntrack ip:iproute2 \
                 protoc:protobuf-compiler /usr/sbin/mariadbd:mariadb-server-core \
                 my_print_defaults:mariadb-client-core chromium:chromium

export SEXTANT_CACHE
export UV_PYTHON_DOWNLOADS := never
export PATH := $(BIN_DIR):$(PATH)

.PHONY: crds chart-deps manifests help deps uv venv tools gateway-tools kfp-tools monitoring-tools kserve-tools test test-unit test-integration kfp-exec-tools kfp-exec-images test-kfp-exec lint bench bench-drift cluster cluster-down \
        cluster-reset cluster-status demo clean images

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

deps: ## Install missing Debian packages (apt-get) and check the toolchains
	@missing=""; for need in $(APT_NEEDS); do cmd=$${need%%:*}; pkg=$${need##*:}; \
	  command -v $$cmd >/dev/null || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq $$missing; fi
	@command -v python3.11 >/dev/null || { echo "Python 3.11 is required (python3.11 not found)"; exit 1; }
	@command -v go >/dev/null || { echo "Go >= 1.26 is required to build the control plane (go not found)"; exit 1; }

uv: $(UV) ## Install the pinned uv (from PyPI) into the cache
$(UV):
	python3.11 -m venv $(SEXTANT_CACHE)/uv-$(UV_VERSION)
	$(SEXTANT_CACHE)/uv-$(UV_VERSION)/bin/pip install -q uv==$(UV_VERSION)

venv: $(UV) ## Create .venv from uv.lock (every package, dev tools included)
	$(UV) sync --frozen --all-packages --group dev --python python3.11

tools: deps ## Build etcd, Kubernetes, kwok, kubectl, helm, kubeconform, versitygw, the node's tools, metrics-server (cached by version)
	controlplane/build-tools.sh >/dev/null

test: deps venv tools chart-deps gateway-tools kfp-tools monitoring-tools lint images ## Lint, unit and integration tests (starts a cluster with the real node for the session)
	SEXTANT_REQUIRE_GATEWAY=1 SEXTANT_REQUIRE_MONITORING=1 $(PYTEST) tests/unit tests/integration -m "not bench" --durations=30 --durations-min=10

images: deps venv ## Build the container images with buildah (no daemon, no registry); cached by content
	$(PY) -m sextant_devcluster.images build

test-unit: venv ## Unit tests only (no cluster, seconds)
	$(PYTEST) tests/unit -m "not bench"

test-integration: deps venv tools chart-deps gateway-tools kfp-tools monitoring-tools images ## Integration tests on the local cluster (with the real node)
	SEXTANT_REQUIRE_GATEWAY=1 SEXTANT_REQUIRE_MONITORING=1 $(PYTEST) tests/integration -m "not bench"

kfp-tools: deps venv ## Build Kubeflow Pipelines' API server and persistence agent (the kubeflow backend's tests)
	nice -n 10 controlplane/build-tools.sh kfp >/dev/null

kfp-exec-tools: kfp-tools ## Build Argo's controller and executor and KFP's driver and launcher (a KFP run on the real node; not in make test)
	nice -n 10 controlplane/build-tools.sh kfp-exec >/dev/null

kfp-exec-images: kfp-exec-tools images ## Build their images and the ML Metadata service's (not in make images)
	nice -n 10 $(PY) -m sextant_devcluster.images build argo-controller argoexec kfp-driver kfp-launcher mlmd

test-kfp-exec: chart-deps kfp-exec-images ## A TrainingJob of the kubeflow backend executed for real by Argo and KFP on the real node
	SEXTANT_KFP_EXEC=1 $(PYTEST) tests/integration/kubeflow/test_kubeflow_execution.py

gateway-tools: deps ## Build Traefik (the Gateway API implementation the HTTPRoute tests use) and the Gateway API CRDs
	controlplane/build-tools.sh traefik gateway-api-crds >/dev/null

monitoring-tools: deps ## Build Prometheus and promtool (the monitoring tests) and fetch the Prometheus Operator CRDs
	controlplane/build-tools.sh prometheus promtool prometheus-operator-crds >/dev/null

kserve-tools: deps ## Build KServe's controller and assemble its manifests (the operator scale benchmark's anchor; not in make test)
	nice -n 19 controlplane/build-tools.sh kserve >/dev/null

LINT_PATHS := controlplane/src contracts/src operator/src services/src pipelines/src manifests/render.py tests
TYPED_PATHS := controlplane/src contracts/src operator/src services/src pipelines/src

lint: venv ## ruff and mypy --strict
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy $(TYPED_PATHS)

crds: venv ## Regenerate the CRDs (chart and kustomize) from the typed models in contracts/
	$(PY) -m sextant_contracts.resources.crdgen

chart-deps: venv tools ## Package the chart's optional Dask operator dependency from the pinned wheel (offline helm dependency build)
	$(PY) -m sextant_devcluster.chart_deps

manifests: venv tools chart-deps ## Regenerate the kustomize manifests from the Helm chart
	$(PY) manifests/render.py

bench: deps venv tools chart-deps ## Benchmarks (not part of make test); results in bench-results/
	@for setup in tests/bench/*/setup.sh; do [ -f "$$setup" ] && PATH="$(dir $(UV)):$$PATH" bash "$$setup"; done; true
	$(PYTEST) tests/bench -m bench -p no:randomly -s

bench-drift: venv ## Drift benchmarks only, Evidently side by side in its own venv (docs/drift.md; long: Evidently at 1M rows)
	PATH="$(dir $(UV)):$$PATH" bash tests/bench/drift/setup.sh
	nice -n 10 $(PYTEST) tests/bench/drift -m bench -p no:randomly -s

cluster: deps venv tools images ## Start the local cluster: control plane, kwok nodes, the real node (state in .cluster/)
	$(VENV)/bin/sextant-devcluster up --state-dir $(CLUSTER_DIR) --bin-dir $(BIN_DIR)

cluster-down: venv ## Stop the local control plane (keeps its state)
	$(VENV)/bin/sextant-devcluster down --state-dir $(CLUSTER_DIR) --bin-dir $(BIN_DIR)

cluster-reset: venv ## Stop the local cluster and delete its state (and the node's imported images)
	$(VENV)/bin/sextant-devcluster reset --state-dir $(CLUSTER_DIR) --bin-dir $(BIN_DIR)

cluster-status: venv ## Show which components run
	$(VENV)/bin/sextant-devcluster status --state-dir $(CLUSTER_DIR) --bin-dir $(BIN_DIR)

demo: cluster ## Install Sextant on the local cluster with helm, apply the samples, show what kubectl shows
	KUBECONFIG=$(CLUSTER_DIR)/kubeconfig PY=$(PY) scripts/demo.sh

clean: cluster-down ## Remove the virtual environment and local state (not the tool cache)
	rm -rf $(VENV) $(CLUSTER_DIR) .pytest_cache .mypy_cache .ruff_cache bench-results
