"""The local Kubernetes control plane for tests, `make cluster-up` and the demo.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built from Go modules at
pinned versions (hack/build-binaries.sh), plus kwok for fake Nodes whose Pods turn Running, all as
processes on 127.0.0.1. No containers run: there is no kubelet, no Pod networking, no metrics API.

Modules: `binaries` (find or build the binaries), `pki` (certificates, kubeconfigs), `components`
(command lines, file layout), `processes` (start, stop), `nodes` (fake Nodes), `readiness` (checks
and the polling loop), `kubeapi` (the harness's own HTTP calls), `state` (the state file),
`cluster` (LocalCluster), `pytest_plugin` (the `cluster` fixture), `__main__` (the CLI).
"""

from localcluster.binaries import Binaries, BinariesError
from localcluster.cluster import ClusterStartError, LocalCluster
from localcluster.pki import ClusterPki

__all__ = ["Binaries", "BinariesError", "ClusterPki", "ClusterStartError", "LocalCluster"]
