{{/* The chart's name. */}}
{{- define "kaze.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, the prefix of every object. */}}
{{- define "kaze.fullname" -}}
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

{{- define "kaze.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kaze.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "api") */}}
{{- define "kaze.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kaze.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kaze.componentLabels" -}}
{{ include "kaze.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kaze.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kaze.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kaze.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Names of the Secrets the containers read: the one the user named, or the chart's own. */}}
{{- define "kaze.databaseSecret" -}}
{{- default (printf "%s-database" (include "kaze.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}
{{- define "kaze.s3Secret" -}}
{{- default (printf "%s-s3" (include "kaze.fullname" .)) .Values.storage.s3.existingSecret -}}
{{- end -}}
{{- define "kaze.webhooksSecret" -}}
{{- default (printf "%s-webhooks" (include "kaze.fullname" .)) .Values.webhooks.existingSecret -}}
{{- end -}}
{{- define "kaze.webhooksSecretKey" -}}
{{- if .Values.webhooks.existingSecret -}}{{ .Values.webhooks.existingSecretKey }}{{- else -}}webhook-secret{{- end -}}
{{- end -}}
{{- define "kaze.apiKeysSecret" -}}
{{- default (printf "%s-api-keys" (include "kaze.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "kaze.modelsClaim" -}}
{{- default (printf "%s-models" (include "kaze.fullname" .)) .Values.models.persistence.existingClaim -}}
{{- end -}}

{{/* JVM options: temporary files and the JavaCPP/DJL native caches go to writable emptyDirs. */}}
{{- define "kaze.javaToolOptions" -}}
{{- printf "-Djava.io.tmpdir=/tmp -Dorg.bytedeco.javacpp.cachedir=/cache/javacpp %s" .Values.javaOptions | trim -}}
{{- end -}}

{{/*
Environment shared by the API and worker roles: (dict "ctx" $ "role" "api").
Every secret comes through secretKeyRef; the KAZE_STORAGE_S3_* and KAZE_ROLE settings are read by
the S3 storage and role support.
*/}}
{{- define "kaze.env" -}}
{{- $ := .ctx -}}
- name: KAZE_ROLE
  value: {{ .role }}
- name: KAZE_DATA_DIR
  value: /data
- name: JAVA_TOOL_OPTIONS
  value: {{ include "kaze.javaToolOptions" $ | quote }}
- name: DJL_CACHE_DIR
  value: /cache/djl
- name: ENGINE_CACHE_DIR
  value: /cache/djl
- name: SPRING_DATASOURCE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.databaseSecret" $ }}
      key: {{ if $.Values.database.existingSecret }}{{ $.Values.database.urlKey }}{{ else }}url{{ end }}
- name: SPRING_DATASOURCE_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.databaseSecret" $ }}
      key: {{ if $.Values.database.existingSecret }}{{ $.Values.database.usernameKey }}{{ else }}username{{ end }}
- name: SPRING_DATASOURCE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.databaseSecret" $ }}
      key: {{ if $.Values.database.existingSecret }}{{ $.Values.database.passwordKey }}{{ else }}password{{ end }}
- name: KAZE_STORAGE_S3_ENDPOINT
  value: {{ $.Values.storage.s3.endpoint | quote }}
- name: KAZE_STORAGE_S3_BUCKET
  value: {{ $.Values.storage.s3.bucket | quote }}
- name: KAZE_STORAGE_S3_REGION
  value: {{ $.Values.storage.s3.region | quote }}
- name: KAZE_STORAGE_S3_PATHSTYLE
  value: {{ $.Values.storage.s3.pathStyle | quote }}
- name: KAZE_STORAGE_S3_ACCESSKEY
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.s3Secret" $ }}
      key: {{ if $.Values.storage.s3.existingSecret }}{{ $.Values.storage.s3.accessKeyKey }}{{ else }}access-key{{ end }}
- name: KAZE_STORAGE_S3_SECRETKEY
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.s3Secret" $ }}
      key: {{ if $.Values.storage.s3.existingSecret }}{{ $.Values.storage.s3.secretKeyKey }}{{ else }}secret-key{{ end }}
- name: KAZE_WEBHOOKS_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.webhooksSecret" $ }}
      key: {{ include "kaze.webhooksSecretKey" $ }}
- name: KAZE_AUTH_ANONYMOUS
  value: {{ $.Values.auth.anonymous | quote }}
{{- range $i, $k := $.Values.auth.keys }}
- name: KAZE_AUTH_KEYS_{{ $i }}_ID
  value: {{ $k.id | quote }}
{{- $hashed := not (empty $k.sha256) }}
{{- if $.Values.auth.existingSecret }}{{ $hashed = ternary $k.hashed true (hasKey $k "hashed") }}{{ end }}
- name: KAZE_AUTH_KEYS_{{ $i }}_{{ ternary "SHA256" "KEY" $hashed }}
  valueFrom:
    secretKeyRef:
      name: {{ include "kaze.apiKeysSecret" $ }}
      key: {{ if $.Values.auth.existingSecret }}{{ default $k.id $k.secretKey }}{{ else }}key-{{ $i }}{{ end }}
{{- if $k.maxQueued }}
- name: KAZE_AUTH_KEYS_{{ $i }}_MAX_QUEUED
  value: {{ $k.maxQueued | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Probes on the actuator's health groups: (dict "probes" .Values.api.probes) */}}
{{- define "kaze.probes" -}}
startupProbe:
  httpGet:
    path: {{ .startupPath }}
    port: http
  {{- toYaml .probes.startup | nindent 2 }}
readinessProbe:
  httpGet:
    path: /actuator/health/readiness
    port: http
  {{- toYaml .probes.readiness | nindent 2 }}
livenessProbe:
  httpGet:
    path: /actuator/health/liveness
    port: http
  {{- toYaml .probes.liveness | nindent 2 }}
{{- end -}}

{{/* Writable scratch space under a read-only root file system. */}}
{{- define "kaze.scratchVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: cache
  mountPath: /cache
- name: data
  mountPath: /data
{{- end -}}
{{- define "kaze.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: cache
  emptyDir: {}
- name: data
  emptyDir: {}
{{- end -}}

{{/*
The model bundle, read-only, for both roles: the worker loads it; the API reads only its headers and LoRA
directory (the model id, the recipe's default LoRAs, the DiT shapes a LoRA upload is checked against).
*/}}
{{- define "kaze.modelsEnv" -}}
{{- if .Values.models.bundle }}
- name: KAZE_MODELS_DIR
  value: /models/{{ .Values.models.bundle }}
- name: KAZE_MODELS_LORAS
  value: /models/loras
{{- end }}
{{- end -}}

{{- define "kaze.modelsMount" -}}
{{- if .Values.models.bundle }}
- name: models
  mountPath: /models
  readOnly: true
{{- end }}
{{- end -}}

{{- define "kaze.modelsVolume" -}}
{{- if .Values.models.bundle }}
- name: models
  persistentVolumeClaim:
    claimName: {{ include "kaze.modelsClaim" . }}
    readOnly: true
{{- end }}
{{- end -}}
