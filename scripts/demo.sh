#!/usr/bin/env bash
# The demo behind `make demo`: everything a newcomer sees mppoci do today.
# It keeps its own mppoci home under demo-out/, so it never touches yours.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$PWD/demo-out"
rm -rf "$out"
mkdir -p "$out"
export MPPOCI_HOME="$out/home"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "runtime: the Python 3 image tools run on (built once from Debian packages)"
if docker image inspect mppoci-runtime/python3:latest >/dev/null 2>&1; then
  echo "mppoci-runtime/python3 is already built"
else
  mppoci runtime build python3
fi
mppoci runtime list

step "mppoci init: scaffold a sample tool"
mppoci init "$out/word-count" --name demo/word-count

step "mppoci build: a reproducible OCI artifact in the local store"
digest=$(mppoci build "$out/word-count")
echo "digest: $digest"
again=$(SOURCE_DATE_EPOCH=0 mppoci build "$out/word-count" 2>/dev/null)
[ "$digest" = "$again" ] && echo "rebuilt: same digest (reproducible)"

step "mppoci inspect: what the package is and what it may touch"
mppoci inspect demo/word-count

step "mppoci list: the local store"
mppoci list

step "the store is a standard OCI layout: skopeo reads it"
skopeo inspect --raw "oci:$MPPOCI_HOME/data/store:demo/word-count:0.1.0" | python3 -m json.tool
