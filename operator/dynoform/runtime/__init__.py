"""A small controller runtime on lightkube: the one door to the API server and its seams.

`kube` (writes with retries and bounded concurrency, list-then-watch informers), `resources`
(the kinds read and written, and the permissions they need), `workqueue` (a keyed queue with two
priorities, one in flight per key), `election` (leader election on a Lease). It knows nothing
of Formations but their API group: the operator package wires it to the domain.
"""
