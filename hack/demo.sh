#!/usr/bin/env bash
# `make demo`: the local cluster (six kwok nodes in three zones and one real node), the operator
# installed with Helm from charts/dynoform with its image built here, the example app spread
# across zones and scaled, then a real app on the real node: its web page, its logs, a one-off
# run, a restart, a crash and a failed release; last, the Platform API and the Dashboard served
# in the cluster, used with a Kubernetes token.
# Everything it starts keeps running so you can look around; `make down` stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
DYNO=${DYNO:-$(dirname "$PY")/dyno}
state=${DYNOFORM_CLUSTER_STATE:-.local/cluster}   # the local cluster's state dir
local_port=${DYNOFORM_DEMO_PORT:-18080}           # where the web dyno is forwarded to
api_port=${DYNOFORM_DEMO_API_PORT:-18090}         # where the Platform API is forwarded to
release=dynoform ns=dynoform-system
lc() { $PY -m localcluster --state-dir "$state" "$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting the local cluster (control plane, 6 kwok nodes, 1 real node)"
lc up | tee "$state.up.log"
export KUBECONFIG
KUBECONFIG=$(tail -n1 "$state.up.log" | sed 's/^export KUBECONFIG=//')
# The pinned kubectl and helm that were built with the control plane.
PATH="$($PY -c 'from localcluster import binaries as b; print(b.component_dir("kubernetes"))'):$PATH"
PATH="$($PY -c 'from localcluster import binaries as b; print(b.component_dir("helm"))'):$PATH"
kubectl get nodes -L topology.kubernetes.io/zone,dyno.dev/node

step "Building the operator's and the sample app's images (podman, no registry) into the real node"
lc images --load operator sample-app

step "Installing the operator with Helm (2 replicas, leader election; admission in the API server; the Platform API)"
helm upgrade --install "$release" charts/dynoform -n "$ns" --create-namespace \
  -f charts/dynoform/ci/local-cluster-values.yaml --set api.enabled=true --wait --timeout 180s
kubectl -n "$ns" get pods -o wide
# The chart's CRDs and admission policies in force (the API server takes a moment), and every
# size, real-1x from the values included, indexed by the operator for the catalog policy.
$PY -c 'import subprocess as s; from localcluster.operator import wait_for_admission, wait_for_catalog
k = lambda *a, input=None: s.run(["kubectl", *a], input=input, check=True, capture_output=True, text=True)
wait_for_admission(k); wait_for_catalog(k)'
kubectl -n "$ns" wait --for=jsonpath='{.spec.holderIdentity}' lease/"$release" --timeout=60s >/dev/null
echo "leader: $(kubectl -n "$ns" get lease "$release" -o jsonpath='{.spec.holderIdentity}')"

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

step "Applying examples/shop.yaml (web=3:standard-2x, worker=2, clock=1) on the kwok nodes"
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

step "Refused at apply time by the API server itself (the catalog's ValidatingAdmissionPolicy)"
kubectl patch formation shop --type merge -p '{"spec":{"processes":{"clock":{"size":"eco"}}}}' || true

step "A real app on the real node: examples/sample-app (its release command runs first)"
kubectl apply -f examples/sample-app/hello.yaml
wait_ready hello
kubectl get formation hello
$DYNO ps -a hello

step "Its web dyno answers on \$PORT (kubectl port-forward to the web Service)"
kubectl port-forward svc/hello-web "$local_port:80" >"$state.port-forward.log" 2>&1 &
forward=$!
trap 'kill $forward 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$local_port/" >/dev/null && break; sleep 0.2; done
curl -s "http://127.0.0.1:$local_port/"
kill $forward; wait $forward 2>/dev/null || true

step "dyno logs --tail (5 seconds of it)"
timeout 5 "$DYNO" logs -a hello --tail --num 3 || true

step "dyno run: a one-off dyno, attached, with the command's exit code (-x)"
set +e
echo 'import sys; print("2 + 2 =", 2 + 2); sys.exit(3)' | $DYNO run -a hello -s real-1x -x --no-tty -- python3
echo "exit code: $?"
set -e

step "dyno ps:restart web: a new web dyno replaces the old one"
old=$(kubectl get pods -l dyno.dev/formation=hello,dyno.dev/process-type=web -o jsonpath='{.items[0].metadata.name}')
$DYNO ps:restart web -a hello
kubectl wait --for=delete "pod/$old" --timeout=120s
wait_ready hello
$DYNO ps web -a hello

step "A crash: the worker's container is killed (ctr on the real node); Kubernetes restarts it"
container=$(kubectl get pods -l dyno.dev/formation=hello,dyno.dev/process-type=worker \
  -o jsonpath='{.items[0].status.containerStatuses[0].containerID}')
lc ctr tasks kill --signal SIGKILL "${container#containerd://}"
kubectl wait --for=jsonpath='{.status.containerStatuses[0].restartCount}'=1 --timeout=60s \
  pod -l dyno.dev/formation=hello,dyno.dev/process-type=worker >/dev/null
kubectl wait --for=condition=Ready --timeout=60s pod -l dyno.dev/formation=hello,dyno.dev/process-type=worker >/dev/null
$DYNO ps worker -a hello

step "A failed release: image :2 whose migration fails; every dyno stays on :1"
lc ctr images tag --force localhost/dynoform/sample-app:1 localhost/dynoform/sample-app:2 >/dev/null
kubectl patch formation hello --type merge -p '{"spec":{"image":"localhost/dynoform/sample-app:2",
  "release":{"command":"MIGRATION_FAILS=1 python3 release.py"}}}'
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="Released")].reason}'=ReleaseFailed \
  --timeout=120s formation/hello >/dev/null
kubectl get formation hello -o jsonpath='{.status.conditions[?(@.type=="Released")].message}{"\n"}'
kubectl get deployments -l dyno.dev/formation=hello -o custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image

step "The Platform API and the Dashboard, served in the cluster, as a user with a Kubernetes token"
kubectl create serviceaccount demo-user --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create clusterrolebinding dynoform-demo-user --clusterrole=cluster-admin \
  --serviceaccount=default:demo-user --dry-run=client -o yaml | kubectl apply -f - >/dev/null
token=$(kubectl create token demo-user --duration=1h)
kubectl -n "$ns" port-forward "svc/$release-api" "$api_port:80" >"$state.api-forward.log" 2>&1 &
api_forward=$!
trap 'kill $api_forward 2>/dev/null || true' EXIT
api="http://127.0.0.1:$api_port"
for _ in $(seq 1 50); do curl -sf "$api/dashboard/" >/dev/null && break; sleep 0.2; done
echo "GET $api/apps/hello.default/formation (the token is the API key, as HEROKU_API_KEY):"
curl -sf -H 'Accept: application/vnd.heroku+json; version=3' -H "Authorization: Bearer $token" \
  "$api/apps/hello.default/formation" | $PY -c 'import json, sys
for f in json.load(sys.stdin): print("  %s: %s x %s" % (f["type"], f["quantity"], f["size"]))'
jar="$state.dashboard-cookies"
curl -sf -c "$jar" -o /dev/null --data-urlencode "token=$token" "$api/dashboard/signin"
page=$(curl -sf -b "$jar" "$api/dashboard/apps/default/hello")
echo "Dashboard: $(grep -o 'Signed in as <strong>[^<]*' <<<"$page" | sed 's/<strong>//')"
echo "Dashboard: worker set to 2 on hello's page, Confirm"
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$page" | head -n1)
curl -sf -b "$jar" -o "$state.dashboard-answer.html" \
  --data-urlencode "csrf=$csrf" --data-urlencode "quantity.worker=2" \
  "$api/dashboard/apps/default/hello/formation"
grep -o 'Scaled[^<]*' "$state.dashboard-answer.html" || true
kubectl rollout status deployment/hello-worker --timeout=120s >/dev/null
$DYNO ps worker -a hello
kill $api_forward; wait $api_forward 2>/dev/null || true

step "Done"
cat <<MSG
The cluster and the operator keep running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$(command -v kubectl)"):$(dirname "$(command -v helm)"):\$PATH
  kubectl get formations
  kubectl describe formation hello
  $DYNO ps -a hello
  $DYNO logs -a hello --tail
  $DYNO ps:scale worker=2 -a hello
  kubectl scale deployment shop-clock --replicas=3   # set back to 1 within seconds
The Dashboard and the Platform API (sign in with: kubectl create token demo-user):
  kubectl -n $ns port-forward svc/$release-api $api_port:80   # then open $api/
  HEROKU_HOST=$api HEROKU_API_KEY=\$(kubectl create token demo-user) heroku ps -a hello.default
Tear down: make down
MSG
