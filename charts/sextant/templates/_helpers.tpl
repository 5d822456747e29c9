{{/* Names, labels and the operator's RBAC rules, defined once. */}}

{{- define "sextant.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sextant.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "sextant.labels" -}}
{{ include "sextant.selectorLabels" . }}
app.kubernetes.io/part-of: sextant
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sextant.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sextant.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sextant.webhookSecretName" -}}
{{- if eq .Values.webhook.certificate.mode "secret" -}}
{{- .Values.webhook.certificate.secretName -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "sextant.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The operator's permissions, and nothing more (each rule says which code needs it):
- read and watch the three kinds; patch them to add/remove the finalizer and kopf's progress annotations;
- patch their status subresource (the reconcilers' single status write);
- create Events (phase and condition transitions, kopf's warnings).
No cluster-wide list/watch of CRDs or namespaces is needed: settings.scanning is disabled.
*/}}
{{- define "sextant.operatorRules" -}}
- apiGroups: ["ml.sextant.io"]
  resources: ["trainingjobs", "inferenceservices", "batchpredictions"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["ml.sextant.io"]
  resources: ["trainingjobs/status", "inferenceservices/status", "batchpredictions/status"]
  verbs: ["patch"]
# Jobs: server-side apply creates a missing Job, which the API server authorizes as `create`.
# Jobs are owned with blockOwnerDeletion, which OwnerReferencesPermissionEnforcement allows only to those who
# may update the owner's finalizers.
- apiGroups: ["ml.sextant.io"]
  resources: ["trainingjobs/finalizers", "inferenceservices/finalizers", "batchpredictions/finalizers"]
  verbs: ["update"]
# Server-side apply of a Job that does not exist yet is a create.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "list", "watch", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
{{- if .Values.dask.enabled }}
# spec.compute.dask runs (docs/dask.md): DaskJobs of the Dask Kubernetes operator, server-side applied, watched
# (with their runner and worker pods, above) and deleted with a run's history. The Dask operator makes the rest.
- apiGroups: ["kubernetes.dask.org"]
  resources: ["daskjobs"]
  verbs: ["create", "list", "watch", "patch", "delete"]
{{- end }}
# An InferenceService's children (docs/serving.md), server-side applied: model-server and router Deployments
# (watched: their readiness is the service's), their Services, the router's ConfigMap, autoscalers and
# disruption budgets; a version no longer served is deleted, and the router's objects once one backend takes all
# the traffic. All are watched (by their label): a child is applied
# again only when its manifest changed or another writer changed it. HTTPRoutes are read for their Gateway's verdict.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "list", "watch", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["create", "list", "watch", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["create", "list", "watch", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["create", "list", "watch", "patch", "delete"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{/*
The artifact store, resolved once: the embedded store's defaults fill what the values leave empty.
*/}}
{{- define "sextant.objectstore.name" -}}
{{- printf "%s-objectstore" (include "sextant.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sextant.objectstore.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: objectstore
{{- end -}}

{{- define "sextant.objectstore.labels" -}}
{{ include "sextant.objectstore.selectorLabels" . }}
app.kubernetes.io/part-of: sextant
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sextant.artifactStore.uri" -}}
{{- $store := .Values.artifactStore -}}
{{- if $store.uri -}}
{{- $store.uri -}}
{{- else if $store.embedded.enabled -}}
{{- printf "s3://%s" $store.embedded.bucket -}}
{{- end -}}
{{- end -}}

{{- define "sextant.artifactStore.endpoint" -}}
{{- $store := .Values.artifactStore -}}
{{- if $store.endpoint -}}
{{- $store.endpoint -}}
{{- else if $store.embedded.enabled -}}
{{- printf "http://%s.%s.svc:%d" (include "sextant.objectstore.name" .) .Release.Namespace (int $store.embedded.port) -}}
{{- end -}}
{{- end -}}

{{- define "sextant.artifactStore.secretName" -}}
{{- $store := .Values.artifactStore -}}
{{- if $store.credentialsSecret -}}
{{- $store.credentialsSecret -}}
{{- else if $store.embedded.enabled -}}
{{- printf "%s-credentials" (include "sextant.objectstore.name" .) -}}
{{- end -}}
{{- end -}}

{{/* The operator's store settings as env vars: the keys by reference to the Secret, never by value. */}}
{{- define "sextant.artifactStore.env" -}}
{{- $uri := include "sextant.artifactStore.uri" . -}}
{{- $endpoint := include "sextant.artifactStore.endpoint" . -}}
{{- $secret := include "sextant.artifactStore.secretName" . -}}
{{- if $uri }}
- name: SEXTANT_STORE_URI
  value: {{ $uri | quote }}
{{- end }}
{{- if hasPrefix "s3://" $uri }}
- name: AWS_REGION
  value: {{ .Values.artifactStore.region | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.artifactStore.region | quote }}
{{- end }}
{{- if $endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ $endpoint | quote }}
{{- end }}
{{- if $secret }}
- name: SEXTANT_STORE_CREDENTIALS_SECRET
  value: {{ $secret | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: AWS_SECRET_ACCESS_KEY}
{{- end }}
{{- end -}}

{{/* The `restricted` Pod Security Standard for the store's containers. */}}
{{- define "sextant.objectstore.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Monitoring (templates/monitoring.yaml, metrics-service.yaml): what tells the operator's metrics Service apart
from its webhook Service, the namespaces InferenceServices live in, and the labels every monitoring object gets. */}}
{{- define "sextant.metricsServiceLabel" -}}
ml.sextant.io/endpoint: metrics
{{- end -}}

{{- define "sextant.monitoringLabels" -}}
{{ include "sextant.labels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}
