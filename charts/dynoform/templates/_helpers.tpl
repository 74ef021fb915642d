{{/* The chart name, or nameOverride. */}}
{{- define "dynoform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects. */}}
{{- define "dynoform.fullname" -}}
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

{{/* Labels on every object. */}}
{{- define "dynoform.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dynoform.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator Pods' selector. */}}
{{- define "dynoform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dynoform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "dynoform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dynoform.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dynoform.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The leader Lease's name (in the release namespace), and its Role's. */}}
{{- define "dynoform.leaseName" -}}
{{- include "dynoform.fullname" . }}
{{- end }}

{{- define "dynoform.leaderElectionRole" -}}
{{- printf "%s-leader-election" (include "dynoform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dynoform.webhookService" -}}
{{- printf "%s-webhook" (include "dynoform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dynoform.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "dynoform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The webhooks' certificate when Helm makes it (not cert-manager), as JSON {crt, key, ca}.
Generated once and then looked up from the cluster on every upgrade, so it is stable; memoised
in .Values for this render, so every template sees the same one.
*/}}
{{- define "dynoform.webhookTLS" -}}
{{- if not (hasKey .Values "generatedWebhookTLS") }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "dynoform.webhookSecret" .) }}
{{- $tls := dict }}
{{- if and $secret $secret.data (hasKey $secret.data "ca.crt") }}
{{- $tls = dict "crt" (index $secret.data "tls.crt") "key" (index $secret.data "tls.key") "ca" (index $secret.data "ca.crt") }}
{{- else }}
{{- $svc := include "dynoform.webhookService" . }}
{{- $ns := .Release.Namespace }}
{{- $days := int .Values.generatedCertValidityDays }}
{{- $ca := genCA (printf "%s webhook CA" (include "dynoform.fullname" .)) $days }}
{{- $names := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) nil $names $days $ca }}
{{- $tls = dict "crt" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc) "ca" ($ca.Cert | b64enc) }}
{{- end }}
{{- $_ := set .Values "generatedWebhookTLS" $tls }}
{{- end }}
{{- toJson .Values.generatedWebhookTLS }}
{{- end }}

{{/* Metadata every CRD-like object of the chart carries: kept on uninstall when crds.keep. */}}
{{- define "dynoform.keepAnnotation" -}}
{{- if .Values.crds.keep }}
helm.sh/resource-policy: keep
{{- end }}
{{- end }}

{{/*
Annotations of a custom resource whose CRD this same release installs (DynoSizes). Helm cannot
build such an object before its CRD exists, so on the first install (the kind not served yet)
it is a post-install hook carrying Helm's ownership metadata: the next upgrade, which finds the
kind served, adopts it as an ordinary release resource. Usage:
  include "dynoform.crAnnotations" (list $ "dyno.dev/v1alpha1/DynoSize")
*/}}
{{- define "dynoform.crAnnotations" -}}
{{- $root := index . 0 }}
{{- if not ($root.Capabilities.APIVersions.Has (index . 1)) }}
helm.sh/hook: post-install
# Not before-hook-creation (the default): deleting first needs the kind's mapping, which Helm's
# discovery cache lacks within the install that creates the CRD.
helm.sh/hook-delete-policy: hook-failed
meta.helm.sh/release-name: {{ $root.Release.Name }}
meta.helm.sh/release-namespace: {{ $root.Release.Namespace }}
{{- end }}
# Argo CD: the CRD may arrive in the same sync.
argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
{{- end }}

{{/* The Platform API server's objects: name, labels and selector. */}}
{{- define "dynoform.apiName" -}}
{{- printf "%s-api" (include "dynoform.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dynoform.apiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "dynoform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: platform-api
{{- end }}

{{- define "dynoform.apiLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dynoform.apiSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
