{{/* Chart name. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release alone when it holds the chart name. */}}
{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "gatehouse.encryptionKeySecret" -}}
{{- default (printf "%s-encryption-key" (include "gatehouse.fullname" .)) .Values.encryptionKey.existingSecret }}
{{- end }}

{{- define "gatehouse.tlsSecret" -}}
{{- default (printf "%s-tls" (include "gatehouse.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{- define "gatehouse.pvcName" -}}
{{- default (printf "%s-data" (include "gatehouse.fullname" .)) .Values.storage.sqlite.existingClaim }}
{{- end }}

{{- define "gatehouse.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{- define "gatehouse.rootTokenFile" -}}
{{- if eq .Values.storage.mode "sqlite" }}/data/root-token{{ else }}/run/gatehouse/root-token{{ end }}
{{- end }}

{{/* The gateway's names and labels (component: gateway, so the server's
Service and PodDisruptionBudget never select gateway pods). */}}
{{- define "gatehouse.gatewayFullname" -}}
{{- printf "%s-gateway" (include "gatehouse.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatehouse.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "gatehouse.gatewayLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatehouse.gatewaySelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatehouse.gatewayServiceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create }}
{{- default (include "gatehouse.gatewayFullname" .) .Values.gateway.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.gateway.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The server's URL for the gateway: gateway.serverURL, else (with the
server in the same release) its in-cluster Service. */}}
{{- define "gatehouse.gatewayServerURL" -}}
{{- if .Values.gateway.serverURL }}
{{- .Values.gateway.serverURL }}
{{- else }}
{{- printf "%s://%s.%s.svc:%v" (ternary "https" "http" .Values.tls.enabled) (include "gatehouse.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}
{{- end }}

{{/* Refuses combinations that cannot work. */}}
{{- define "gatehouse.validate" -}}
{{- if and (not .Values.server.enabled) (not .Values.gateway.enabled) }}
{{- fail "server.enabled=false and gateway.enabled=false: nothing to install" }}
{{- end }}
{{- if .Values.gateway.enabled }}
{{- $g := .Values.gateway }}
{{- if and (not $g.serverURL) (not .Values.server.enabled) }}
{{- fail "gateway.enabled without the server (server.enabled=false) needs gateway.serverURL: the Gatehouse server's URL" }}
{{- end }}
{{- if and $g.serverURL (not (regexMatch "^https?://[^/]+" $g.serverURL)) }}
{{- fail (printf "gateway.serverURL %q: want http(s)://host[:port]" $g.serverURL) }}
{{- end }}
{{- if eq $g.auth.method "universal" }}
{{- if not $g.auth.existingSecret }}
{{- fail "gateway.auth.method=universal needs gateway.auth.existingSecret: a Secret holding the client ID and client secret" }}
{{- end }}
{{- else if not $g.auth.identityID }}
{{- fail "gateway.auth.method=kubernetes needs gateway.auth.identityID" }}
{{- end }}
{{- if and $g.serverCA.secretName $g.serverCA.configMapName }}
{{- fail "gateway.serverCA: give secretName or configMapName, not both" }}
{{- end }}
{{- if and (gt (int $g.replicaCount) 1) (not $g.pool) }}
{{- fail "gateway.replicaCount > 1 needs gateway.pool: several gateways serve a cluster as one pool" }}
{{- end }}
{{- if and (gt (int $g.replicaCount) 1) $g.name }}
{{- fail "gateway.name names one gateway: leave it empty with gateway.replicaCount > 1 (each pod is named after itself)" }}
{{- end }}
{{- end }}
{{- if not (has .Values.storage.mode (list "sqlite" "postgres")) }}
{{- fail (printf "storage.mode %q: want sqlite or postgres" .Values.storage.mode) }}
{{- end }}
{{- if and (eq .Values.storage.mode "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs storage.mode=postgres: a SQLite store is held by one process" }}
{{- end }}
{{- if and (eq .Values.storage.mode "postgres") (not .Values.storage.postgres.existingSecret) }}
{{- fail "storage.mode=postgres needs storage.postgres.existingSecret: a Secret holding the postgres:// URL" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) (not .Values.tls.certManager.enabled) }}
{{- fail "tls.enabled needs tls.existingSecret or tls.certManager.enabled" }}
{{- end }}
{{- if and .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) }}
{{- fail "tls.certManager.enabled needs tls.certManager.issuerRef.name" }}
{{- end }}
{{- range $k, $v := .Values.config }}
{{- if has (lower $k) (list "storage" "listen" "tls-cert" "tls-key" "root-token-file" "encryption-key" "encryption-key-file" "dev" "dev-root-token" "replica-url") }}
{{- fail (printf "config.%s is set by the chart (or must not be set in a ConfigMap); see values.yaml" $k) }}
{{- end }}
{{- end }}
{{- end }}
