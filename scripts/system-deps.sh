#!/usr/bin/env bash
# Install, from Debian, only the system packages mppoci needs that are missing,
# and start the Docker engine in the background when none answers.
# Idempotent: a second run installs nothing and starts nothing.
# With --packages-only it installs and starts nothing else (CI starts an engine
# of its own: scripts/fresh-engine.sh).
set -euo pipefail
packages_only=false
[ "${1:-}" = "--packages-only" ] && packages_only=true

say() { echo "system-deps: $*"; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' \
  || missing+=(busybox-static)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing: ${missing[*]}; run this as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  say "installing from Debian: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages already present (docker.io, docker-registry, busybox-static, debootstrap, skopeo)"
fi

$packages_only && exit 0

engine_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_answers; then
  say "Docker engine already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  say "no Docker engine answers and only root can start one here" >&2
  exit 1
fi
log=/var/log/mppoci-dockerd.log
say "starting dockerd in the background (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if engine_answers; then
    say "Docker engine is up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.5
done
say "dockerd did not answer within 30 s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
