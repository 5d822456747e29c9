#!/usr/bin/env bash
# The demo on the local control plane (started by `make demo` before this runs).
# Later issues extend it: install the CRDs and the operator, apply the sample TrainingJob, wait for a
# registered model, serve it with an InferenceService and call the endpoint.
set -euo pipefail
: "${KUBECONFIG:?run through make demo}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "kubectl get nodes (kwok fake nodes; kwok-gpu-0 advertises nvidia.com/gpu)"
kubectl get nodes -L node.sextant.io/accelerator

step "Server version (built from k8s.io/kubernetes)"
kubectl version -o yaml | sed -n '/serverVersion/,$p' | grep -E 'gitVersion|platform'

step "A Deployment scheduled onto the fake nodes"
kubectl create namespace sextant-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n sextant-demo create deployment hello --image=registry.invalid/hello:1 --replicas=2 \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n sextant-demo rollout status deployment/hello --timeout=60s
kubectl -n sextant-demo get deployment,replicaset,pods -o wide

step "Done. The cluster keeps running: make cluster-down stops it, make cluster-reset wipes it."
