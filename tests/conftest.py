"""Fixtures shared by the whole suite."""

# --- Kubernetes cluster (owned by hack/localcluster) ---------------------------------------
# Adds the `--cluster=local|existing|kind` option and the lazy session fixture `cluster`
# (kubeconfig, env(), kubectl(), helm(), and `.local` for the LocalCluster when mode is local).
# Nothing starts unless a test requests `cluster`; see hack/localcluster/pytest_plugin.py.
pytest_plugins = ["localcluster.pytest_plugin"]
# --- End of the cluster block -----------------------------------------------------------------

# --- The operator (tests/operator_fixture.py) ------------------------------------------------
# `installed` (CRDs + RBAC), `operator` (python -m dynoform for the session), `kube` (a lightkube
# Client), `namespace` (a fresh namespace per test).
pytest_plugins += ["tests.operator_fixture"]

# --- The reliability suite's sizes (tests/chaos.py): `--chaos` for the long variants ----------
pytest_plugins += ["tests.chaos"]
