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
touch -d '2001-02-03 04:05:06' "$out/word-count/main.py"   # other mtimes, same content
again=$(mppoci build "$out/word-count" 2>/dev/null)
if [ "$digest" != "$again" ]; then
  echo "demo: a rebuild gave another digest ($again); builds must be reproducible" >&2
  exit 1
fi
echo "rebuilt after touching the sources: same digest (reproducible)"

step "mppoci key generate: an ECDSA P-256 key pair in cosign's format"
export MPPOCI_PASSWORD=demo-password   # non-interactive; on a terminal mppoci asks
(cd "$out" && mppoci key generate --output-key-prefix demo)

step "mppoci trust add: trust that key for demo/* packages (nothing is trusted by default)"
mppoci trust add "$out/demo.pub" --publisher demo --scope 'demo/*'
mppoci trust list

step "mppoci sign: a cosign simple-signing signature, kept beside the package"
mppoci sign demo/word-count --key "$out/demo.key"

step "mppoci verify: digests re-hashed, signature checked against the trust policy"
mppoci verify demo/word-count

step "mppoci inspect: what the package is, what it may touch, and its verification status"
mppoci inspect demo/word-count

step "mppoci list: the local store"
mppoci list

step "the store is a standard OCI layout: skopeo reads it"
skopeo inspect --raw "oci:$MPPOCI_HOME/data/store:demo/word-count:0.1.0" | python3 -m json.tool

step "a local registry: Debian's docker-registry on 127.0.0.1 (its own config and storage)"
port=${MPPOCI_DEMO_REGISTRY_PORT:-5000}
cat >"$out/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $out/registry}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$out/registry.yml" >"$out/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
remote="127.0.0.1:$port/demo/word-count:0.1.0"

step "mppoci push: blobs the registry lacks, the manifest, and cosign's signature tag"
mppoci push demo/word-count "$remote"

step "mppoci remove, then mppoci pull: staged, verified, and only then stored"
mppoci remove demo/word-count
mppoci pull "$remote"
mppoci verify "$remote"

step "another machine: a fresh home that trusts only the demo key pulls and inspects it"
MPPOCI_HOME="$out/other-machine" mppoci trust add "$out/demo.pub" --publisher demo
MPPOCI_HOME="$out/other-machine" mppoci pull "$remote"
MPPOCI_HOME="$out/other-machine" mppoci inspect demo/word-count | head -6

step "mppoci approve: what the sample may do, in words; approved once (--yes: scripted)"
mppoci approve demo/word-count --yes

step "mppoci policy show: exactly what its sandbox enforces"
mppoci policy show demo/word-count

step "mppoci run: one fresh, locked-down container per call"
echo '{"text": "signed, verified, approved and sandboxed"}' | mppoci run demo/word-count

step "denied: a variable the package did not declare is never passed"
if mppoci run demo/word-count --env AWS_SECRET_ACCESS_KEY=hunter2 </dev/null; then
  echo "demo: an undeclared variable was passed; this is a bug" >&2
  exit 1
fi

step "denied: a tool that tries to escape (examples/nosy) finds every door shut"
mppoci build examples/nosy >/dev/null
mppoci sign demo/nosy --key "$out/demo.key"
mppoci approve demo/nosy --yes 2>/dev/null
mppoci run demo/nosy </dev/null

step "tampering is caught on every load: flip one byte of the content layer"
layer=$(skopeo inspect --raw "oci:$MPPOCI_HOME/data/store:demo/word-count:0.1.0" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"].split(":")[1])')
blob="$MPPOCI_HOME/data/store/blobs/sha256/$layer"
python3 - "$blob" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 1
open(path, "wb").write(bytes(data))
PY
if mppoci verify demo/word-count; then
  echo "demo: a tampered package verified; this is a bug" >&2
  exit 1
fi
echo "refused, as it must be"
