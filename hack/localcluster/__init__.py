"""The local Kubernetes cluster for tests, `make cluster-up`, the demo and the benchmarks.

Real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, built from Go modules at
pinned versions (hack/build-binaries.sh), as processes on 127.0.0.1; kwok for six fake Nodes in
three zones whose Pods turn Running at once (scheduling at scale, for nothing); and one real node
(containerd, runc and a kubelet built like the rest) in a network namespace of its own, whose
pods run real containers from images built here without a registry. There is no kube-proxy, no
cluster DNS and no metrics API.

Modules: `binaries` (find or build the binaries), `pki` (certificates, kubeconfigs), `components`
(command lines, file layout), `processes` (start, stop), `nodes` (fake Nodes), `node` (the real
node), `netns` (its network namespace), `nodeproxy` (the way in and out of it), `images` (images
without a registry), `readiness` (checks and the polling loop), `kubeapi` (the harness's own
HTTP calls), `state` (the state file), `cluster` (LocalCluster), `pytest_plugin` (the `cluster`
fixture), `__main__` (the CLI).
"""

from localcluster.binaries import Binaries, BinariesError
from localcluster.cluster import ClusterStartError, LocalCluster
from localcluster.pki import ClusterPki

__all__ = ["Binaries", "BinariesError", "ClusterPki", "ClusterStartError", "LocalCluster"]
