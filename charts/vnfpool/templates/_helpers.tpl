{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "vnfpool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "vnfpool.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vnfpool.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels; pass (dict "ctx" $ "component" "registrar"). */}}
{{- define "vnfpool.labels" -}}
helm.sh/chart: {{ include "vnfpool.chart" .ctx }}
{{ include "vnfpool.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: vnfpool
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels (immutable once deployed): name, instance, component. */}}
{{- define "vnfpool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vnfpool.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "vnfpool.registrar.fullname" -}}
{{- printf "%s-registrar" (include "vnfpool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{/* The headless Service: ENRP peers and stable per-PR names. */}}
{{- define "vnfpool.registrar.headless" -}}
{{- printf "%s-registrar-peers" (include "vnfpool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "vnfpool.operator.fullname" -}}
{{- printf "%s-operator" (include "vnfpool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "vnfpool.webhook.fullname" -}}
{{- printf "%s-webhook" (include "vnfpool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "vnfpool.webhook.configurationName" -}}
{{- printf "%s-%s-inject" (include "vnfpool.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "vnfpool.webhook.secret" -}}
{{- printf "%s-webhook-tls" (include "vnfpool.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vnfpool.registrar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "vnfpool.registrar.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}
{{- define "vnfpool.operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "vnfpool.operator.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}

{{- define "vnfpool.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- define "vnfpool.sidecarImage" -}}
{{- printf "%s:%s" (default .Values.image.repository .Values.sidecar.image.repository) (default (default .Chart.AppVersion .Values.image.tag) .Values.sidecar.image.tag) -}}
{{- end -}}

{{/* In-cluster DNS names the sidecars and the operator use. */}}
{{- define "vnfpool.registrar.asapAddress" -}}
{{- printf "%s.%s.svc:%d" (include "vnfpool.registrar.fullname" .) .Release.Namespace (int .Values.registrar.ports.asap) -}}
{{- end -}}
{{- define "vnfpool.registrar.peersAddress" -}}
{{- printf "%s.%s.svc:%d" (include "vnfpool.registrar.headless" .) .Release.Namespace (int .Values.registrar.ports.enrp) -}}
{{- end -}}
{{- define "vnfpool.registrar.adminAddress" -}}
{{- printf "%s.%s.svc:%d" (include "vnfpool.registrar.headless" .) .Release.Namespace (int .Values.registrar.ports.admin) -}}
{{- end -}}

{{/* A settings map {"a.b": v} as VNFPOOL_<COMPONENT>_A_B environment variables; pass (dict "component" "REGISTRAR" "config" map). */}}
{{- define "vnfpool.configEnv" -}}
{{- $component := .component -}}
{{- range $key, $value := .config }}
- name: {{ printf "VNFPOOL_%s_%s" $component ($key | replace "." "_" | upper) }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}
