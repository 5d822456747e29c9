#!/usr/bin/env bash
# The demo on the local control plane (started by `make demo` before this runs): install the CRDs, run the
# operator beside the cluster, apply every sample and show what a kubectl user sees.
# Later issues extend it: the sample TrainingJob trains and registers a model on the local backend, and an
# InferenceService serves it.
set -euo pipefail
: "${KUBECONFIG:?run through make demo}" "${PY:?run through make demo}" "${CLUSTER_DIR:?run through make demo}"
NS=sextant-demo
devcluster() { "$(dirname "$PY")/sextant-devcluster" --state-dir "$CLUSTER_DIR" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Nodes: kwok fake nodes on a real control plane (kwok-gpu-0 advertises nvidia.com/gpu)"
kubectl get nodes -L node.sextant.io/accelerator
kubectl version | grep Server

step "Install the CRDs (generated from the typed models in contracts/)"
kubectl apply --server-side --force-conflicts -k manifests/crds
kubectl wait --for=condition=Established --timeout=60s crd/trainingjobs.ml.sextant.io crd/inferenceservices.ml.sextant.io

step "Run the operator beside the cluster (log: $CLUSTER_DIR/logs/sextant-operator.log)"
if devcluster status | grep -q '^sextant-operator .*running'; then
  echo "already running"
else
  # The admission webhook needs a Service the host API server can reach; `make test` covers it.
  SEXTANT_WEBHOOK_ENABLED=false SEXTANT_LIVENESS=http://127.0.0.1:18080/healthz SEXTANT_DEFAULT_BACKEND=local \
    devcluster spawn sextant-operator -- "$PY" -m sextant_operator
  for _ in $(seq 1 60); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.5; done
  curl -fs http://127.0.0.1:18080/healthz >/dev/null || { tail -20 "$CLUSTER_DIR/logs/sextant-operator.log"; exit 1; }
fi

step "Apply every sample (manifests/samples) to namespace $NS"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$NS" -k manifests/samples
kubectl wait -n "$NS" --for=jsonpath='{.status.observedGeneration}'=1 --timeout=60s trainingjobs --all
kubectl wait -n "$NS" --for=jsonpath='{.status.observedGeneration}'=1 --timeout=60s inferenceservices --all

step "kubectl get sextant -n $NS -o wide"
kubectl get sextant -n "$NS" -o wide

step "kubectl describe trainingjob churn (conditions and events)"
kubectl describe -n "$NS" trainingjob churn | sed -n '/^Status:/,$p'

step "Done. The cluster and the operator keep running: make cluster-down stops both, make cluster-reset wipes them."
