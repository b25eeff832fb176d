#!/usr/bin/env bash
# A Docker engine that holds nothing yet, for CI: its own data root (emptied
# first), exec root, socket, pid file and default bridge. The suite then proves
# the from-scratch path: every image a test needs is built by the suite itself,
# never found left over from an earlier run or from `make demo`.
#
#   scripts/fresh-engine.sh start   # prints the DOCKER_HOST to export
#   scripts/fresh-engine.sh stop
#
# It refuses to start beside another running dockerd: a second engine with
# iptables on rewrites the first one's chains on start (measured on Debian's
# 20.10: its DOCKER and DOCKER-ISOLATION rules are deleted), which would break
# the other engine's networks. It never touches docker0.
set -euo pipefail

root=${MPPOCI_CI_ENGINE_ROOT:-/var/lib/mppoci-ci-engine}
run=/run/mppoci-ci-engine
sock="$run/docker.sock"
bridge=mppoci-ci0
bridge_cidr=${MPPOCI_CI_BRIDGE_CIDR:-10.219.0.1/24}
log="$root/dockerd.log"

say() { echo "fresh-engine: $*" >&2; }

answers() { timeout 10 docker -H "unix://$sock" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

stop() {
  if [ -f "$run/dockerd.pid" ]; then
    pid=$(cat "$run/dockerd.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$run/dockerd.pid"
  fi
  # Container shims and mounts the engine left, then its bridge.
  pkill -9 -f -- "-address $run/" 2>/dev/null || true
  awk -v r="$root/" -v x="$run/" 'index($2, r) == 1 || index($2, x) == 1 {print $2}' /proc/mounts \
    | sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
  ip link delete "$bridge" 2>/dev/null || true
}

start() {
  if [ "$(id -u)" -ne 0 ]; then
    say "only root can start a Docker engine"
    exit 1
  fi
  if pgrep -x dockerd >/dev/null; then
    say "another dockerd is running (pid $(pgrep -x dockerd | tr '\n' ' '))."
    say "CI starts an engine of its own with nothing in it, and a second engine"
    say "would rewrite the running one's iptables rules. Stop that engine first,"
    say "or run on a fresh machine (where no engine runs)."
    exit 1
  fi
  stop
  rm -rf "$root"
  mkdir -p "$root" "$run"
  ip link add "$bridge" type bridge
  ip addr add "$bridge_cidr" dev "$bridge"
  ip link set "$bridge" up
  say "starting dockerd with an empty data root $root (log: $log)"
  nohup dockerd \
    --data-root "$root/data" \
    --exec-root "$run/exec" \
    --pidfile "$run/dockerd.pid" \
    -H "unix://$sock" \
    --bridge "$bridge" \
    >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    if answers; then
      images=$(docker -H "unix://$sock" images -q | wc -l)
      say "engine up ($(docker -H "unix://$sock" version --format '{{.Server.Version}}'), $images images)"
      echo "unix://$sock"
      return 0
    fi
    sleep 0.5
  done
  say "dockerd did not answer within 30 s; last lines of $log:"
  tail -n 20 "$log" >&2
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
