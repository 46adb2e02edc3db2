{{/*
The chart name, or nameOverride.
*/}}
{{- define "voice-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified name: fullnameOverride, else "<release>-<chart>" (just the release when it already holds the chart
name). At most 63 characters (DNS-1123 label), since some fields are limited to that.
*/}}
{{- define "voice-stack.fullname" -}}
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

{{/*
"<name>-<version>" for the helm.sh/chart label.
*/}}
{{- define "voice-stack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The standard labels of every object.
*/}}
{{- define "voice-stack.labels" -}}
helm.sh/chart: {{ include "voice-stack.chart" . }}
{{ include "voice-stack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: voice-stack
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (immutable once a Deployment exists).
*/}}
{{- define "voice-stack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "voice-stack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The operator's name, labels and selector labels.
*/}}
{{- define "voice-stack.operator.fullname" -}}
{{- printf "%s-operator" (include "voice-stack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "voice-stack.operator.labels" -}}
{{ include "voice-stack.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "voice-stack.operator.selectorLabels" -}}
{{ include "voice-stack.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
The operator's ServiceAccount name.
*/}}
{{- define "voice-stack.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "voice-stack.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference from {repository, tag, digest}: the digest wins, an empty tag means the chart's appVersion.
Usage: include "voice-stack.image" (dict "image" .Values.images.router "context" $)
*/}}
{{- define "voice-stack.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .context.Chart.AppVersion .image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
imagePullSecrets of a pod spec, when there are any.
*/}}
{{- define "voice-stack.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ .name | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pull secrets' names as a comma-separated list (for the operator's VOICESTACK_IMAGE_PULL_SECRETS).
*/}}
{{- define "voice-stack.imagePullSecretNames" -}}
{{- $names := list }}
{{- range .Values.imagePullSecrets }}
{{- $names = append $names .name }}
{{- end }}
{{- join "," $names }}
{{- end }}

{{/*
The router Service URL the helm test and NOTES use.
*/}}
{{- define "voice-stack.routerUrl" -}}
{{- printf "http://%s-router.%s.svc.cluster.local" .Values.voiceStack.name .Release.Namespace }}
{{- end }}

{{/*
The label every VoiceStack child carries (set by the operator: operator/voicestack_operator/manifests/labels.py;
KServe copies an InferenceService's labels onto its predictor pods). With app.kubernetes.io/component (router, asr,
tts) it selects a stack's pods; the chart's own pods have component operator or test.
*/}}
{{- define "voice-stack.stackPartOf" -}}
app.kubernetes.io/part-of: voice-stack
{{- end }}
