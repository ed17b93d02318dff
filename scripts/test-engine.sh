#!/usr/bin/env bash
# Runs a command (the test suite) with a Docker Engine of its own:
#
#   scripts/test-engine.sh go test ./...
#
# - installs Debian's docker.io when dockerd is missing (needs root; apt),
# - builds the Compose v2 plugin, pinned, from the Go module proxy into
#   .cache/docker-config/cli-plugins/docker-compose unless it is there
#   (`go install` refuses the module because its go.mod has exclude
#   directives, so ./cmd is built inside the downloaded module directory),
# - starts dockerd with its state in a temporary directory (vfs storage, no
#   iptables, no bridge: nothing on the host is changed), waits until it
#   answers, and runs the command with IMMICH_ACCEL_TEST_DOCKER_HOST and
#   IMMICH_ACCEL_TEST_DOCKER_CONFIG set (internal/enginetest reads them),
# - always stops the daemon and its containers afterwards and removes its state.
#
# Without root (dockerd needs it) the command runs without an engine and the
# engine tests skip, saying why; under CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."

compose_version=v2.40.3
config=$PWD/.cache/docker-config
plugin=$config/cli-plugins/docker-compose
log() { echo "test-engine: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "not root: running without a Docker Engine (engine tests will skip)"
  exec "$@"
fi

if ! command -v dockerd >/dev/null; then
  log "installing docker.io (dockerd) with apt"
  export DEBIAN_FRONTEND=noninteractive
  for i in 1 2 3 4 5; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null; then break; fi
    [ "$i" = 5 ] && { log "apt-get install docker.io failed"; exit 1; }
    log "apt busy or failing; retrying in 10s"; sleep 10
  done
fi

if [ ! -x "$plugin" ]; then
  log "building the Compose plugin $compose_version (once; minutes on 2 cores)"
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@$compose_version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "go mod download gave no module directory"; exit 1; }
  mkdir -p "$config/cli-plugins"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
    -o "$plugin.tmp" ./cmd)
  mv "$plugin.tmp" "$plugin"
fi

state=$(mktemp -d /tmp/ia-engine.XXXXXX)
# The exec root holds the daemon's containerd socket, whose path must stay
# short (unix socket paths are limited to 108 bytes).
exec_root=$(mktemp -d /tmp/ia-e.XXXXXX)
sock=$state/docker.sock
pid=
cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    DOCKER_HOST=unix://$sock timeout 20 docker ps -aq 2>/dev/null |
      xargs -r env DOCKER_HOST="unix://$sock" timeout 30 docker rm -f >/dev/null 2>&1 || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Anything the daemon left mounted under its state goes before the state.
  { grep -o " $state[^ ]*\| $exec_root[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$state" "$exec_root" || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s%N)
# Its own (empty) daemon.json: the host's /etc/docker/daemon.json, with
# runtimes it may register, is not this engine's.
echo '{}' >"$state/daemon.json"
dockerd --config-file "$state/daemon.json" --data-root "$state/data" --exec-root "$exec_root" -H "unix://$sock" \
  --pidfile "$state/docker.pid" --storage-driver vfs \
  --iptables=false --ip-masq=false --bridge=none >"$state/dockerd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if DOCKER_HOST=unix://$sock timeout 2 docker version >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    log "dockerd exited; its log:"; tail -n 30 "$state/dockerd.log" >&2; exit 1
  fi
  sleep 0.1
done
DOCKER_HOST=unix://$sock timeout 2 docker version >/dev/null 2>&1 || {
  log "dockerd did not answer within 30s; its log:"; tail -n 30 "$state/dockerd.log" >&2; exit 1
}
log "Docker Engine $(DOCKER_HOST=unix://$sock docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})') at unix://$sock, up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

export IMMICH_ACCEL_TEST_DOCKER_HOST=unix://$sock
export IMMICH_ACCEL_TEST_DOCKER_CONFIG=$config
"$@"
