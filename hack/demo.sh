#!/usr/bin/env bash
# `make demo`: a local control plane (unless KUBECONFIG is set), the CRDs, the operator, the
# example app (web, worker, clock), its pods per zone, then web scaled to 6 (2 per zone).
# Everything it starts keeps running so you can look around; `make down` stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
state=${DYNOFORM_STATE:-.local}        # where the operator's pid and log go
port=${DYNOFORM_DEMO_PORT:-18080}      # the operator's liveness endpoint
mkdir -p "$state"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ -z "${KUBECONFIG:-}" ]; then
  step "Starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
  $PY -m localcluster up | tee "$state/cluster-up.log"
  export KUBECONFIG
  KUBECONFIG=$(tail -n1 "$state/cluster-up.log" | sed 's/^export KUBECONFIG=//')
  # The pinned kubectl that was built with the control plane.
  PATH="$($PY -c 'from localcluster import binaries; print(binaries.component_dir("kubernetes"))'):$PATH"
fi
echo "KUBECONFIG=$KUBECONFIG"

step "Installing the CRDs (Formation, DynoSize)"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=60s crd/formations.dyno.dev crd/dynosizes.dyno.dev

step "Starting the operator (python -m dynoform), log in $state/operator.log"
if [ -f "$state/operator.pid" ] && kill -0 "$(cat "$state/operator.pid")" 2>/dev/null; then
  echo "already running (pid $(cat "$state/operator.pid"))"
else
  nohup $PY -m dynoform --liveness "http://127.0.0.1:$port/healthz" --webhook-port 0 >"$state/operator.log" 2>&1 &
  echo $! >"$state/operator.pid"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  echo "running (pid $(cat "$state/operator.pid"))"
fi

pods_per_zone() {
  echo "pods of $1 per zone:"
  kubectl get pods -l "dyno.dev/formation=$1" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.metadata.labels.dyno\.dev/process-type}{"\n"}{end}' |
  while read -r node ptype; do
    echo "$(kubectl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}') $ptype"
  done | sort | uniq -c | awk '{printf "  %-8s %-8s %s dyno%s\n", $2, $3, $1, ($1 == 1 ? "" : "s")}'
}

# Ready for the spec just applied: the operator has observed this generation and says Ready.
wait_ready() {
  local gen
  gen=$(kubectl get formation "$1" -o jsonpath='{.metadata.generation}')
  kubectl wait --for=jsonpath='{.status.observedGeneration}'="$gen" --timeout=60s "formation/$1" >/dev/null
  kubectl wait --for=condition=Ready --timeout=120s "formation/$1"
}

step "Applying examples/shop.yaml (web=3:standard-2x, worker=2, clock=1)"
kubectl apply -f examples/shop.yaml
wait_ready shop
kubectl get formation shop
kubectl get deployments,services,poddisruptionbudgets -l dyno.dev/formation=shop
pods_per_zone shop

step "Scaling web to 6 (like heroku ps:scale web=6)"
kubectl patch formation shop --type merge -p '{"spec":{"processes":{"web":{"quantity":6}}}}'
wait_ready shop
kubectl get formation shop
pods_per_zone shop
kubectl get events --field-selector involvedObject.name=shop,reason=Scaled -o custom-columns=WHEN:.lastTimestamp,MESSAGE:.message

step "Done"
cat <<MSG
The cluster and the operator keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$(command -v kubectl)"):\$PATH
  kubectl get formations
  kubectl describe formation shop
  kubectl scale deployment shop-clock --replicas=3   # set back to 1 within seconds
Tear down: make down
MSG
