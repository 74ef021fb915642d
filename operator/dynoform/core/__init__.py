"""The domain, pure: no I/O, no clock, no kopf, no HTTP client.

The size catalog's rules applied to a spec (`admission`), desired children (`builders`), what a
reconcile compares (`compare`), the release phase (`release`), autoscalers (`scaling`), the
verified spread (`spread`) and the status a Formation reports (`status`). Everything here is a
function of the API's models and of observed objects passed in, tested without a cluster.
"""
