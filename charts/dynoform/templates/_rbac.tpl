{{/* The operator's rules, shared by the cluster-wide and the namespaced RBAC (rbac.yaml). */}}
{{- define "dynoform.namespacedRules" -}}
# Formations: watched through kopf; status written by server-side apply.
- apiGroups: [dyno.dev]
  resources: [formations]
  verbs: [get, list, watch]
- apiGroups: [dyno.dev]
  resources: [formations/status]
  verbs: [patch]
# Children: server-side apply creates (create) and updates (patch); prune deletes; a get checks
# an unlabelled name before the first apply.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
# Autoscalers of autoscaled types: HPAs, and KEDA's ScaledObjects (used only while KEDA's CRD is
# installed; granting a group the cluster does not serve is harmless).
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [get, list, watch, create, patch, delete]
# Eco sleep: the KEDA HTTP add-on's HTTPScaledObjects (used only while its CRD is installed).
- apiGroups: [http.keda.sh]
  resources: [httpscaledobjects]
  verbs: [get, list, watch, create, patch, delete]
# The release phase: a Job per released image; scheduled jobs: a CronJob per job.
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch, create, patch, delete]
# Where the dynos run (verified spread): our Pods, by label. Read only.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# Events on Formations (ours and kopf's warnings).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
{{- define "dynoform.clusterRules" -}}
# DynoSizes: the admins' size catalog, cluster-scoped; their status holds the whole catalog for
# the admission policy (written by server-side apply).
- apiGroups: [dyno.dev]
  resources: [dynosizes]
  verbs: [list, watch]
- apiGroups: [dyno.dev]
  resources: [dynosizes/status]
  verbs: [patch]
# The zones of the Nodes the dynos run on (verified spread). Read only.
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
# kopf: resource discovery and namespace scanning; dynoform: whether KEDA's CRD is installed.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- end }}
