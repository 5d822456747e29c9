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
- read and watch both kinds; patch them to add/remove the finalizer and kopf's progress annotations;
- patch their status subresource (the reconcilers' single status write);
- create Events (phase and condition transitions, kopf's warnings).
No cluster-wide list/watch of CRDs or namespaces is needed: settings.scanning is disabled.
*/}}
{{- define "sextant.operatorRules" -}}
- apiGroups: ["ml.sextant.io"]
  resources: ["trainingjobs", "inferenceservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["ml.sextant.io"]
  resources: ["trainingjobs/status", "inferenceservices/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
