{{/*
Names and labels. The selector labels are the original chart's (app, app.kubernetes.io/name and
app.kubernetes.io/instance): a Deployment's selector cannot change, so these let `helm upgrade` take over a
release of Azure/gitops-connector in place, and `kubectl get pods -l app=gitops-connector` keeps working.
*/}}
{{- define "gitops-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-connector.fullname" -}}
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

{{- define "gitops-connector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-connector.selectorLabels" -}}
app: {{ .Chart.Name }}
app.kubernetes.io/name: {{ include "gitops-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitops-connector.labels" -}}
{{ include "gitops-connector.selectorLabels" . }}
helm.sh/chart: {{ include "gitops-connector.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gitops-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitops-connector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-connector.image" -}}
{{- if hasPrefix "ghcr.io/azure/gitops-connector" (toString .Values.image.repository) -}}
{{- fail "image.repository is Azure/gitops-connector's image, which this chart cannot run (a values.yaml copied from the original chart's defaults?): remove image.repository and image.tag from your values to use this chart's image" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{- /* A tag written as a number arrives as a float64 (20240101 would print as 2.0240101e+07). */ -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if and (kindIs "float64" $tag) (eq $tag (float64 (int64 $tag))) }}{{ $tag = int64 $tag }}{{ end -}}
{{ .Values.image.repository }}:{{ $tag | toString }}
{{- end -}}
{{- end }}

{{/*
The single instance of the original charts, as YAML (empty when there is none): the older chart's flat keys win
over singleInstance.*, subscribers of both are merged. It exists once any key of it is set; then the keys the
original chart required are required here too, so a half-filled values.yaml fails `helm install` as it did
there, naming the value.
*/}}
{{- define "gitops-connector.singleInstance" -}}
{{- $single := .Values.singleInstance | default dict -}}
{{- $instance := dict -}}
{{- range list "gitRepositoryType" "ciCdOrchestratorType" "gitOpsOperatorType" "gitOpsAppURL" "azdoGitOpsRepoName" "azdoOrgUrl" "azdoPrRepoName" "gitHubGitOpsManifestsRepoName" "gitHubOrgUrl" "gitHubGitOpsRepoName" -}}
{{- $value := get $.Values . | default (get $single .) -}}
{{- if $value }}{{ $_ := set $instance . $value }}{{ end -}}
{{- end -}}
{{- if $instance -}}
{{- range list "gitRepositoryType" "ciCdOrchestratorType" "gitOpsOperatorType" "gitOpsAppURL" -}}
{{- $_ := required (printf "singleInstance.%s is required for the single instance (or set singleInstance: null and list instances)" .) (get $instance .) -}}
{{- end -}}
{{- $git := $instance.gitRepositoryType -}}
{{- $orchestrator := $instance.ciCdOrchestratorType -}}
{{- if eq $git "AZDO" }}{{ $_ := required "singleInstance.azdoGitOpsRepoName is required when gitRepositoryType is AZDO" $instance.azdoGitOpsRepoName }}{{ end -}}
{{- if or (eq $git "AZDO") (eq $orchestrator "AZDO") }}{{ $_ := required "singleInstance.azdoOrgUrl is required when gitRepositoryType or ciCdOrchestratorType is AZDO" $instance.azdoOrgUrl }}{{ end -}}
{{- if eq $git "GITHUB" }}{{ $_ := required "singleInstance.gitHubGitOpsManifestsRepoName is required when gitRepositoryType is GITHUB" $instance.gitHubGitOpsManifestsRepoName }}{{ end -}}
{{- if eq $orchestrator "GITHUB" }}{{ $_ := required "singleInstance.gitHubGitOpsRepoName is required when ciCdOrchestratorType is GITHUB" $instance.gitHubGitOpsRepoName }}{{ end -}}
{{- if or (eq $git "GITHUB") (eq $orchestrator "GITHUB") }}{{ $_ := required "singleInstance.gitHubOrgUrl is required when gitRepositoryType or ciCdOrchestratorType is GITHUB" $instance.gitHubOrgUrl }}{{ end -}}
{{- $_ := set $instance "name" "singleInstance" -}}
{{- $_ := set $instance "default" true -}}
{{- $_ := set $instance "pat" "${PAT:-}" -}}
{{- $subscribers := merge (dict) (.Values.subscribers | default dict) ($single.subscribers | default dict) -}}
{{- if $subscribers }}{{ $_ := set $instance "subscribers" $subscribers }}{{ end -}}
{{- toYaml $instance -}}
{{- end -}}
{{- end }}

{{/*
One entry of `instances` as a config instance: a GitOpsConfig spec under its name (map form), an instance with a
name (list form), or a whole GitOpsConfig object (list form, as `kubectl get -o yaml` prints its items). Without
a `pat` (or a GitHub App, `gitHubAppId`) it takes the chart's PAT, and it posts to the top-level `subscribers` (its own win by name), as every
GitOpsConfig of the original did.
*/}}
{{- define "gitops-connector.instance" -}}
{{- $name := .name -}}
{{- $entry := .entry | default dict -}}
{{- $spec := dict -}}
{{- if and (hasKey $entry "spec") (hasKey $entry "metadata") -}}
{{- $spec = deepCopy ($entry.spec | default dict) -}}
{{- $name = $entry.metadata.name -}}
{{- else -}}
{{- $spec = deepCopy $entry -}}
{{- end -}}
{{- $spec = omit $spec "name" -}}
{{- if not $name }}{{ fail (printf "instances: an entry has no name (give it name:, or use the map form name: spec): %s" (toJson $entry)) }}{{ end -}}
{{- $instance := merge (dict "name" $name) $spec -}}
{{- /* A GitHub App stands in for pat; both at once is a config error. */ -}}
{{- if not (or (hasKey $instance "pat") (hasKey $instance "gitHubAppId")) }}{{ $_ := set $instance "pat" "${PAT:-}" }}{{ end -}}
{{- $shared := .subscribers | default dict -}}
{{- if $shared }}{{ $_ := set $instance "subscribers" (merge (dict) ($instance.subscribers | default dict) $shared) }}{{ end -}}
{{- toYaml $instance -}}
{{- end }}

{{/* The config file the daemon reads: `config` with the instances added. */}}
{{- define "gitops-connector.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- range $key, $value := $config }}{{ if or (eq $value nil) (and (kindIs "map" $value) (empty $value)) (and (kindIs "slice" $value) (empty $value)) }}{{ $_ := unset $config $key }}{{ end }}{{ end -}}
{{- $instances := list -}}
{{- $single := include "gitops-connector.singleInstance" . | fromYaml -}}
{{- if $single }}{{ $instances = append $instances $single }}{{ end -}}
{{- if kindIs "map" .Values.instances -}}
{{- range $name, $entry := .Values.instances -}}
{{- $instances = append $instances (include "gitops-connector.instance" (dict "name" $name "entry" $entry "subscribers" $.Values.subscribers) | fromYaml) -}}
{{- end -}}
{{- else -}}
{{- range .Values.instances -}}
{{- $instances = append $instances (include "gitops-connector.instance" (dict "name" .name "entry" . "subscribers" $.Values.subscribers) | fromYaml) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "instances" $instances -}}
{{- /* PostgreSQL's URL from postgres.existingSecret: the Deployment sets OUTBOX_URL, the config reads it. */ -}}
{{- $outbox := $config.outbox | default dict -}}
{{- if and (eq ($outbox.driver | default "sqlite") "postgres") (not $outbox.url) .Values.postgres.existingSecret -}}
{{- $_ := set $outbox "url" "${OUTBOX_URL}" -}}
{{- $_ := set $config "outbox" $outbox -}}
{{- end -}}
{{- toYaml $config -}}
{{- end }}

{{- define "gitops-connector.secretName" -}}
{{- include "gitops-connector.fullname" . }}
{{- end }}
