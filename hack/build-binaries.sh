#!/usr/bin/env bash
# Builds the local control plane's binaries from the pinned Go wrapper modules in hack/go/ and
# caches them outside the repo, keyed by component and version:
#   $DYNOFORM_CACHE/bin/<component>-<version>/   (DYNOFORM_CACHE defaults to ~/.cache/dynoform)
# Only what is missing is built; each build goes to a temporary directory that is renamed into
# place at the end, so an interrupted build never leaves a half-filled cache entry.
# Usage: hack/build-binaries.sh [component ...]   (kubernetes etcd kwok helm kstatus promtool; default: all)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

# The pinned version of a wrapper module's one direct requirement.
version_of() { awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m && NF == 2 {print $2}' "$here/go/$1/go.mod" | head -n1; }

build() {
  local comp=$1 mod=$2 ver dest tmp start
  ver=$(version_of "$comp" "$mod")
  [ -n "$ver" ] || { echo "build-binaries: no version of $mod in hack/go/$comp/go.mod" >&2; exit 1; }
  dest="$cache/bin/$comp-$ver"
  if [ -f "$dest/.complete" ] && complete_$comp "$dest"; then echo "build-binaries: $comp $ver cached in $dest"; return; fi
  mkdir -p "$cache/bin"
  tmp=$(mktemp -d "$cache/bin/.$comp-$ver.XXXXXX")
  start=$(date +%s)
  echo "build-binaries: building $comp $ver (cold builds take minutes; kubernetes the longest) ..."
  ( cd "$here/go/$comp" && "build_$comp" "$ver" "$tmp" )
  touch "$tmp/.complete"
  rm -rf "$dest"; mv "$tmp" "$dest"
  echo "build-binaries: built $comp $ver in $(( $(date +%s) - start ))s -> $dest"
}

# A cache entry counts when its marker and every binary are there (kubelet came later).
complete_kubernetes() { for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do [ -x "$1/$b" ] || return 1; done; }
complete_etcd() { :; }
complete_kwok() { :; }
complete_helm() { :; }
complete_kstatus() { :; }
complete_promtool() { :; }

build_kubernetes() {
  local ver=$1 out=$2 minor flags
  minor=$(echo "$ver" | cut -d. -f2)
  # Without these stamps /version reports v0.0.0-master and version-checking tools misbehave.
  flags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  go build -trimpath -ldflags "-s -w $flags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet
}

build_etcd() {
  # etcd's server module is its main package; `go install` of it fails on its replace directives.
  go build -trimpath -ldflags "-s -w" -o "$2/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  local src
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$1" -o "$2/kwok" sigs.k8s.io/kwok/cmd/kwok
  # kwok v0.8.0 refuses to start without stages; ship upstream's own files beside the binary.
  src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  mkdir -p "$2/stages"
  cp "$src/kustomize/stage/node/fast/node-initialize.yaml" \
     "$src/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$src/kustomize/stage/pod/fast/pod-ready.yaml" "$src/kustomize/stage/pod/fast/pod-complete.yaml" \
     "$src/kustomize/stage/pod/fast/pod-delete.yaml" "$2/stages/"
  chmod u+w "$2/stages/"*
}

build_helm() {
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$1" -o "$2/helm" helm.sh/helm/v3/cmd/helm
}

build_kstatus() {
  # Our own tiny command (hack/go/kstatus/main.go) around Flux's and kpt's status library.
  go build -trimpath -ldflags "-s -w" -o "$2/kstatus" .
}

build_promtool() {
  # Prometheus's own rule checker, for the chart's PrometheusRule (tests/unit/test_chart_metrics.py).
  go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$1" \
    -o "$2/promtool" github.com/prometheus/prometheus/cmd/promtool
}

comps=("$@"); [ ${#comps[@]} -gt 0 ] || comps=(kubernetes etcd kwok helm kstatus promtool)
total=$(date +%s)
for c in "${comps[@]}"; do
  case $c in
    kubernetes) build kubernetes k8s.io/kubernetes ;;
    etcd) build etcd go.etcd.io/etcd/server/v3 ;;
    kwok) build kwok sigs.k8s.io/kwok ;;
    helm) build helm helm.sh/helm/v3 ;;
    kstatus) build kstatus sigs.k8s.io/cli-utils ;;
    promtool) build promtool github.com/prometheus/prometheus ;;
    *) echo "build-binaries: unknown component $c" >&2; exit 2 ;;
  esac
done
echo "build-binaries: done in $(( $(date +%s) - total ))s; cache $cache/bin ($(du -sh "$cache/bin" | cut -f1))"
