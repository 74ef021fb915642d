#!/usr/bin/env bash
# Installs the Debian packages listed in hack/apt-packages.txt that are missing (apt-get, as root
# or with sudo). Go must be >= 1.26 to build kwok; a too-old Go is reported with the fix.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  # golang-go is only needed when no Go toolchain is on PATH already.
  if [[ "$pkg" == golang-go ]] && command -v go >/dev/null; then continue; fi
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < "$here/apt-packages.txt"
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-system-deps: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
gover=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
if [ -z "$gover" ] || [ "$(printf '%s\n' 1.26 "$gover" | sort -V | head -n1)" != 1.26 ]; then
  echo "install-system-deps: Go >= 1.26 is needed (kwok v0.8.0); found '${gover:-none}'." >&2
  echo "  Install it from Debian backports or the Go module proxy (golang.org/toolchain)." >&2
  exit 1
fi
