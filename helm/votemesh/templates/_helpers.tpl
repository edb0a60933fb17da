{{- /* The release's base name: the release name when it already says votemesh. */ -}}
{{- define "votemesh.fullname" -}}
{{- if contains "votemesh" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-votemesh" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- /* One service's objects: <fullname>-<service>. Called with (dict "root" $ "service" name). */ -}}
{{- define "votemesh.name" -}}
{{- printf "%s-%s" (include "votemesh.fullname" .root) .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "votemesh.secretName" -}}
{{- default (include "votemesh.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "votemesh.selectorLabels" -}}
app.kubernetes.io/name: votemesh
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "votemesh.labels" -}}
{{ include "votemesh.selectorLabels" . }}
app.kubernetes.io/part-of: votemesh
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "votemesh.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- /*
Who calls whom (the binary's clients), and what each service uses outside the mesh. Every
service also calls the registry. svc-result calls svc-user too: its token verifier fetches
svc-user's signing keys for calls made straight to it with a JWT.
*/ -}}
{{- define "votemesh.topology" -}}
calls:
  registry: []
  user: []
  candidate: [user]
  voting: [candidate, user]
  result: [candidate, voting, user]
  notify: [user, voting, candidate]
  edge: [user, candidate, voting, result, notify]
uses:
  registry: [redis]
  user: [postgres, kafka]
  candidate: [postgres, kafka]
  voting: [postgres, redis, kafka]
  result: [postgres, redis, kafka]
  notify: [postgres, kafka, smtp, smsGateway]
  edge: []
{{- end -}}

{{- /* Services with a read replica URL. */ -}}
{{- define "votemesh.readers" -}}
[user, candidate, result]
{{- end -}}

{{- /* The address links in messages point to. */ -}}
{{- define "votemesh.publicUrl" -}}
{{- if .Values.notify.publicUrl -}}
{{ .Values.notify.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{ if .Values.ingress.tls }}https{{ else }}http{{ end }}://{{ first .Values.ingress.hosts }}
{{- else -}}
http://localhost:8080
{{- end -}}
{{- end -}}

{{- define "votemesh.registryUrl" -}}
http://{{ include "votemesh.name" (dict "root" . "service" "registry") }}:{{ .Values.services.registry.port }}
{{- end -}}
