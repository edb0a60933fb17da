{{- define "votemesh.name" -}}
{{- printf "%s-%s" .Release.Name .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "votemesh.secretName" -}}
{{- default (printf "%s-votemesh" .Release.Name) .Values.existingSecret -}}
{{- end -}}

{{- define "votemesh.labels" -}}
app.kubernetes.io/name: votemesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}
