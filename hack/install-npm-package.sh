#!/usr/bin/env bash
# Installs a pinned npm package into the cache outside the repo, keyed by name and version, for
# the tests that drive the Platform API server with clients written by others (the official
# `heroku` CLI, Heroku's `heroku-client` library):
#   $DYNOFORM_CACHE/npm/<package>-<version>/node_modules/...
# Only a missing or unfinished install is redone; the install goes to a temporary directory that is
# renamed into place at the end, so an interrupted one never leaves a half-filled cache entry, and
# concurrent callers are serialised by a lock. Prints the install directory. Needs Node >= 20.
# Usage: hack/install-npm-package.sh PACKAGE VERSION   (e.g. heroku 11.10.0)
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PACKAGE VERSION" >&2; exit 2; }
package=$1 version=$2
cache=${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}
dest="$cache/npm/$package-$version"

if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
command -v npm >/dev/null || { echo "install-npm-package: npm not found (Node >= 20 needed)" >&2; exit 1; }
mkdir -p "$cache/npm"
exec 9>"$cache/npm/.lock"
flock 9
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
tmp=$(mktemp -d "$cache/npm/.$package-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "install-npm-package: installing $package@$version ..." >&2
npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error "$package@$version" >&2
touch "$tmp/.complete"
rm -rf "$dest"; mv "$tmp" "$dest"; trap - EXIT
echo "install-npm-package: installed $package@$version in $(( $(date +%s) - start ))s -> $dest" >&2
echo "$dest"
