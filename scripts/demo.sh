#!/usr/bin/env bash
# The demo on the local cluster (started by `make demo` before this runs), installed the way a user installs
# Sextant on a real cluster: the CRDs, then the chart with `helm upgrade --install` (the operator as a real pod
# on the real node, its admission webhook reached through its Service with failurePolicy Fail), then the
# samples, and what a kubectl user sees.
# Later issues extend it: the sample TrainingJob trains and registers a model, an InferenceService serves it.
set -euo pipefail
: "${KUBECONFIG:?run through make demo, or set it to your cluster}" "${PY:?run through make demo (PY=.venv/bin/python)}"
IMAGES=${IMAGES:-build/images.json}
SYSTEM_NS=sextant-system
NS=sextant-demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
image() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["ref"])' "$IMAGES" "$1"; }
# helm --wait returns once pods are Ready; kube-proxy programs their Services about a second later.
until_within() { local seconds=$1 what=$2; shift 2; local end=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || { echo "timed out after ${seconds}s waiting for $what"; exit 1; }
    sleep 0.5; done; }
started=$SECONDS

kubectl get node sextant-node-0 >/dev/null 2>&1 || {
  echo "this cluster has no real node (created with SEXTANT_REAL_NODE=0 or by an older Sextant): the demo runs"
  echo "the operator and the store as real pods. Start afresh with: make cluster-reset && make demo"; exit 1; }

step "Nodes: sextant-node-0 runs pods for real; the kwok nodes (tainted) take only pods that ask for them"
kubectl get nodes -o wide -L type,node.sextant.io/accelerator
kubectl version | grep Server

step "Images built on this machine and imported into the node's containerd (make images)"
"$PY" -c 'import json, sys
for name, entry in json.load(open(sys.argv[1])).items(): print("  %-12s %s" % (name, entry["ref"]))' "$IMAGES"

step "Install the CRDs (server-side apply: helm installs crds/ only on first install)"
kubectl apply --server-side --force-conflicts -f charts/sextant/crds/
kubectl wait --for=condition=Established --timeout=60s crd/trainingjobs.ml.sextant.io crd/inferenceservices.ml.sextant.io

step "The chart's optional dependency, the Dask Kubernetes operator (packaged from the pinned dask-kubernetes wheel)"
"$PY" -m sextant_devcluster.chart_deps
DASK_CHART=$(ls charts/sextant/charts/dask-kubernetes-operator-*.tgz)
# A Dask operator started while its CRDs were missing (an older demo applied only one) never watches them.
dask_restart=$(kubectl get crd daskjobs.kubernetes.dask.org -o name >/dev/null 2>&1 || \
  kubectl get deployment -n "$SYSTEM_NS" sextant-dask-kubernetes-operator -o name 2>/dev/null || true)
# Its CRDs, file by file (--skip-crds below skips them too; `helm show crds` joins the files without a
# document separator, so only the last one would be applied).
DASK_CRDS=$(mktemp -d)
tar -xzf "$DASK_CHART" -C "$DASK_CRDS" dask-kubernetes-operator/crds
kubectl apply --server-side --force-conflicts -f "$DASK_CRDS/dask-kubernetes-operator/crds"
rm -rf "$DASK_CRDS"
# A Dask operator an earlier demo installed as a release of its own (one per cluster: it watches every namespace).
helm uninstall dask-operator --namespace sextant-dask --wait >/dev/null 2>&1 || true

step "helm upgrade --install sextant charts/sextant in $SYSTEM_NS (enforces the restricted Pod Security Standard)"
for ns in "$SYSTEM_NS" "$NS"; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl label namespace "$ns" --overwrite pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
done
operator=$(image operator) store=$(image objectstore) trainer=$(image trainer) server=$(image server)
router=$(image router) dask=$(image dask-operator)
helm upgrade --install sextant charts/sextant --namespace "$SYSTEM_NS" --skip-crds --wait --timeout 180s \
  --set image.repository="${operator%:*}" --set image.tag="${operator##*:}" --set image.pullPolicy=Never \
  --set training.image.repository="${trainer%:*}" --set training.image.tag="${trainer##*:}" \
  --set training.image.pullPolicy=Never --set "artifactStore.shareCredentialsWith={$NS}" \
  --set serving.serverImage.repository="${server%:*}" --set serving.serverImage.tag="${server##*:}" \
  --set serving.routerImage.repository="${router%:*}" --set serving.routerImage.tag="${router##*:}" \
  --set serving.pullPolicy=Never --set serving.routing=router \
  --set dask.enabled=true --set dask.installOperator=true --set dask-kubernetes-operator.image.name="${dask%:*}" \
  --set dask-kubernetes-operator.image.tag="${dask##*:}" --set dask-kubernetes-operator.image.pullPolicy=Never \
  --set webhook.failurePolicy=Fail --set operator.logFormat=plain \
  --set artifactStore.embedded.enabled=true --set artifactStore.embedded.image.repository="${store%:*}" \
  --set artifactStore.embedded.image.tag="${store##*:}" --set artifactStore.embedded.image.pullPolicy=Never
if [ -n "$dask_restart" ]; then
  kubectl rollout restart -n "$SYSTEM_NS" "$dask_restart" && kubectl rollout status -n "$SYSTEM_NS" "$dask_restart"
fi
kubectl get pods,services -n "$SYSTEM_NS" -o wide
until_within 30 "the webhook's Service" kubectl create --dry-run=server -n "$SYSTEM_NS" -f manifests/samples/ml.sextant.io_v1alpha1_trainingjob.yaml

step "The embedded artifact store (versitygw) answers S3 on its ClusterIP, with the keys of its Secret"
STORE_IP=$(kubectl get service -n "$SYSTEM_NS" sextant-objectstore -o jsonpath='{.spec.clusterIP}')
until_within 30 "the store's Service" timeout 2 bash -c "</dev/tcp/$STORE_IP/7070"
STORE_IP=$STORE_IP \
KEYS=$(kubectl get secret -n "$SYSTEM_NS" sextant-objectstore-credentials -o jsonpath='{.data}') "$PY" - <<'PY'
import base64, json, os, boto3
keys = {k: base64.b64decode(v).decode() for k, v in json.loads(os.environ["KEYS"]).items()}
s3 = boto3.client("s3", endpoint_url=f"http://{os.environ['STORE_IP']}:7070", region_name="us-east-1",
                  aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
s3.put_object(Bucket="sextant", Key="demo/hello.txt", Body=b"hello from the demo")
print("  s3://sextant/", [o["Key"] for o in s3.list_objects_v2(Bucket="sextant")["Contents"]])
PY

if [ -n "$(kubectl get sextant -n "$NS" -o name 2>/dev/null)" ]; then
  # The embedded store keeps its data on an emptyDir, which does not outlive its pod: the models an earlier
  # demo's TrainingJobs registered may be gone, while those TrainingJobs still say Succeeded.
  step "A fresh start: the TrainingJobs and InferenceServices of an earlier demo in $NS are deleted"
  kubectl delete sextant --all -n "$NS" --wait --timeout=180s
fi

step "Every sample (manifests/samples) is admitted: server-side dry run in $NS"
kubectl apply -n "$NS" -k manifests/samples --dry-run=server

step "Train: kubectl apply the quickstart TrainingJob; the operator runs it as a Job on the real node"
kubectl apply -n "$NS" -f manifests/samples/ml.sextant.io_v1alpha1_trainingjob_quickstart.yaml
kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Running --timeout=120s trainingjob/breast-cancer || true
kubectl get jobs,pods -n "$NS" -l ml.sextant.io/trainingjob=breast-cancer -o wide
kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Succeeded --timeout=600s trainingjob/breast-cancer || {
  kubectl describe -n "$NS" trainingjob breast-cancer; kubectl logs -n "$NS" -l ml.sextant.io/trainingjob=breast-cancer --tail=40; exit 1; }

step "kubectl get sxtj -n $NS (phase, metric, registered version)"
kubectl get sxtj -n "$NS" -o wide

step "kubectl describe trainingjob breast-cancer (runs, conditions and events)"
kubectl describe -n "$NS" trainingjob breast-cancer | sed -n '/^Status:/,$p'

step "The model is in the in-cluster store: version 1 of breast-cancer"
kubectl get sxtj -n "$NS" breast-cancer -o jsonpath='{.status.model}{"\n"}'

step "Serve: kubectl apply an InferenceService with two variants (80/20) of the model just trained"
kubectl apply -n "$NS" -f manifests/samples/ml.sextant.io_v1alpha1_inferenceservice_quickstart.yaml
kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Ready --timeout=300s inferenceservice/breast-cancer || {
  kubectl describe -n "$NS" inferenceservice breast-cancer; kubectl get pods -n "$NS" -o wide; exit 1; }
kubectl get sxis -n "$NS" -o wide
kubectl get deployments,services,hpa,pdb -n "$NS" -l ml.sextant.io/inferenceservice=breast-cancer

step "curl a prediction through the InferenceService's address ($(kubectl get sxis -n "$NS" breast-cancer -o jsonpath='{.status.url}'))"
SVC_IP=$(kubectl get service -n "$NS" breast-cancer -o jsonpath='{.spec.clusterIP}')
RECORD=$("$PY" -c 'import json; from sklearn.datasets import load_breast_cancer as l; f = l(as_frame=True).frame
print(json.dumps({"records": [f.drop(columns=["target"]).iloc[0].to_dict()]}))')
until_within 60 "the router to route" curl -sf -o /dev/null -X POST "http://$SVC_IP/predict" \
  -H 'content-type: application/json' -d "$RECORD"
echo "  curl -X POST http://$SVC_IP/predict -d '{\"records\": [{\"mean radius\": 17.99, ...}]}'"
for _ in 1 2 3 4 5; do
  curl -s -X POST "http://$SVC_IP/predict" -H 'content-type: application/json' -d "$RECORD"; echo
done | sed 's/^/  /'

step "Train on Dask: the same data as 8 Parquet parts, XGBoost across two worker pods (a DaskJob)"
STORE_IP=$STORE_IP \
KEYS=$(kubectl get secret -n "$SYSTEM_NS" sextant-objectstore-credentials -o jsonpath='{.data}') "$PY" - <<'PY'
import base64, io, json, os, boto3
from sklearn.datasets import load_breast_cancer
keys = {k: base64.b64decode(v).decode() for k, v in json.loads(os.environ["KEYS"]).items()}
s3 = boto3.client("s3", endpoint_url=f"http://{os.environ['STORE_IP']}:7070", region_name="us-east-1",
                  aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
frame = load_breast_cancer(as_frame=True).frame
for part in range(8):
    body = io.BytesIO()
    frame.iloc[part::8].to_parquet(body)
    s3.put_object(Bucket="sextant", Key=f"demo/breast-cancer/part-{part}.parquet", Body=body.getvalue())
print("  s3://sextant/demo/breast-cancer/: 8 Parquet parts,", len(frame), "rows")
PY
kubectl apply -n "$NS" -f manifests/samples/ml.sextant.io_v1alpha1_trainingjob_dask.yaml
kubectl wait -n "$NS" --for=jsonpath='{.status.phase}'=Succeeded --timeout=600s trainingjob/breast-cancer-dask || {
  kubectl describe -n "$NS" trainingjob breast-cancer-dask; kubectl get daskjobs,pods -n "$NS" -o wide; exit 1; }
kubectl get daskjobs -n "$NS"
kubectl get sxtj -n "$NS" breast-cancer-dask -o wide

step "A mistake is refused at admission by the operator's webhook (through its Service)"
kubectl create -n "$NS" -f - <<'YAML' 2>&1 | sed 's/^/  /' || true
apiVersion: ml.sextant.io/v1alpha1
kind: TrainingJob
metadata: {name: typo}
spec:
  task: classification
  dataset: {uri: "builtin:iris", target: target}
  estimator: {algorithm: random_forrest}
  model: {name: typo}
YAML

step "Done in $((SECONDS - started)) s. The cluster keeps running: make cluster-down stops it, make cluster-reset wipes it."
echo "  helm uninstall sextant -n $SYSTEM_NS removes Sextant (the CRDs stay, as helm leaves them)."
