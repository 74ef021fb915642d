#!/usr/bin/env bash
# Installs the official Heroku CLI from npm (pinned) into the cache outside the repo, keyed by
# version, for the tests that drive the Platform API server with it:
#   $DYNOFORM_CACHE/npm/heroku-<version>/node_modules/.bin/heroku
# Only a missing or unfinished install is redone; the install goes to a temporary directory that is
# renamed into place at the end, so an interrupted one never leaves a half-filled cache entry.
# Prints the path of the `heroku` executable. Needs Node >= 20 and npm.
# Usage: hack/install-heroku-cli.sh
set -euo pipefail

version=${HEROKU_CLI_VERSION:-11.10.0}
cache=${DYNOFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynoform}
dest="$cache/npm/heroku-$version"
bin="$dest/node_modules/.bin/heroku"

if [ -f "$dest/.complete" ] && [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v npm >/dev/null || { echo "install-heroku-cli: npm not found (Node >= 20 needed)" >&2; exit 1; }
mkdir -p "$cache/npm"
exec 9>"$cache/npm/.lock"
flock 9
if [ -f "$dest/.complete" ] && [ -x "$bin" ]; then echo "$bin"; exit 0; fi
tmp=$(mktemp -d "$cache/npm/.heroku-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "install-heroku-cli: installing heroku@$version ..." >&2
# No lifecycle scripts are needed by the CLI's commands; the update check is off at run time.
npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error "heroku@$version" >&2
touch "$tmp/.complete"
rm -rf "$dest"; mv "$tmp" "$dest"; trap - EXIT
echo "$bin"
