{{/* The chart's name, and the objects' full name (release + chart, 63 characters at most). */}}
{{- define "modelport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "modelport.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "modelport.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "modelport.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "modelport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelport.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The Secret holding the tokens and URLs. */}}
{{- define "modelport.secretName" -}}
{{- default (include "modelport.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The claim holding the models. */}}
{{- define "modelport.claimName" -}}
{{- default (printf "%s-models" (include "modelport.fullname" .)) .Values.models.pvc.existingClaim }}
{{- end }}

{{/* Host names the server answers to: the pod's IP (probes and Prometheus use it), the
Service's DNS names, loopback, and the operator's own (allowedHosts). */}}
{{- define "modelport.allowedHosts" -}}
{{- $svc := include "modelport.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $hosts := list "$(POD_IP)" $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) "localhost" "127.0.0.1" "::1" }}
{{- join "," (concat $hosts .Values.allowedHosts) }}
{{- end }}
