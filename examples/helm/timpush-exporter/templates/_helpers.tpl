{{/* The name of every object: the release's, or fullnameOverride. */}}
{{- define "timpush-exporter.fullname" -}}
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

{{- define "timpush-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "timpush-exporter.labels" -}}
{{ include "timpush-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: timpush
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The Secret holding the files under /etc/timpush/secrets/. */}}
{{- define "timpush-exporter.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "timpush-exporter.fullname" .) -}}
{{- end -}}

{{- define "timpush-exporter.pvcName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "timpush-exporter.fullname" .)) -}}
{{- end -}}

{{/* True when the configuration has a webhook listener. */}}
{{- define "timpush-exporter.webhook" -}}
{{- if and .Values.config.sources .Values.config.sources.webhook -}}true{{- end -}}
{{- end -}}
