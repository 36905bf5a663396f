{{/* Names are the release's: `<release>-router`, `<release>-identity`, … */}}
{{- define "hub.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hub.selectorLabels" -}}
app.kubernetes.io/name: hub
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hub.labels" -}}
{{ include "hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* A subgraph's settings: subgraphDefaults overlaid by its own entry. */}}
{{- define "hub.subgraph" -}}
{{- $own := index .root.Values.subgraphs .name -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.subgraphDefaults) (deepCopy $own)) -}}
{{- end -}}

{{- define "hub.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* What every service reads: environment, tokens, Redis, the router secret, mail. */}}
{{- define "hub.commonEnv" -}}
{{- $v := .Values -}}
- name: HUB_ENVIRONMENT
  value: {{ $v.environment | quote }}
- name: RUST_LOG
  value: {{ $v.logLevel | quote }}
- name: HUB_AUTH__ISSUER
  value: {{ $v.auth.issuer | quote }}
- name: HUB_AUTH__AUDIENCE
  value: {{ $v.auth.audience | quote }}
- name: HUB_AUTH__JWKS_URL
  value: {{ printf "http://%s:%v/.well-known/jwks.json" (include "hub.name" (dict "root" . "component" "identity")) $v.subgraphs.identity.port | quote }}
{{ include "hub.secretEnv" (dict "name" "HUB_REDIS__URL" "secret" $v.redis.existingSecret "key" $v.redis.urlKey) }}
{{ include "hub.secretEnv" (dict "name" "HUB_AUTH__ROUTER_SECRET" "secret" $v.keys.existingSecret "key" "router-secret") }}
- name: HUB_MAIL__TRANSPORT
  value: {{ $v.mail.transport | quote }}
- name: HUB_MAIL__FROM
  value: {{ $v.mail.from | quote }}
- name: HUB_MAIL__APP_URL
  value: {{ $v.mail.appUrl | quote }}
{{- if eq $v.mail.transport "smtp" }}
{{ include "hub.secretEnv" (dict "name" "HUB_MAIL__SMTP_URL" "secret" $v.keys.existingSecret "key" "smtp-url") }}
{{- end }}
{{- with $v.otel.endpoint }}
- name: HUB_OTEL__ENDPOINT
  value: {{ . | quote }}
- name: HUB_OTEL__SAMPLE_RATIO
  value: {{ $v.otel.sampleRatio | quote }}
- name: HUB_ROUTER_OTLP_ENABLED
  value: "true"
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "hub.pod" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
