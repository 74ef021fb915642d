"""The operator: kopf's entry points, the controller that feeds reconciles, and the webhook.

`main` (`python -m dynoform`), `handlers` (kopf registration, thin adapters), `controller`
(informers, caches and the work queue wired together), `cache` (what is known of Formations,
children, pods and nodes), `reconcile` (build, apply, prune, report), `webhooks` and `tls`
(the admission webhook and its local certificate).
"""
