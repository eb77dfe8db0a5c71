#!/usr/bin/env bash
# Build modelport's container image from the repository's Dockerfile: `make image`
# (IMAGE=name:tag to choose the tag, default modelport:local).
#
# With a registry reachable, a plain `docker build` on python:3.11-slim. Without one (a
# machine that reaches only its package mirrors), the same Dockerfile on a local base and
# without network:
#   - the base: Debian bookworm made with debootstrap (minbase, python3, python3-venv) from
#     the machine's Debian mirror, and `docker import`ed as modelport-base:bookworm;
#   - the Python packages: a wheelhouse resolved with that base's own Python (so every
#     environment marker is evaluated as the build will) and served to the build on the
#     loopback interface: --network host, PIP_NO_INDEX=1, PIP_FIND_LINKS=http://127.0.0.1:PORT/.
# The Docker daemon is started (and docker.io / debootstrap installed, as root) when needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${IMAGE:-modelport:local}
EXTRAS=${EXTRAS:-sklearn,pandas,xgboost,lightgbm,onnx,skops,grpc,mysql,postgres,redis}
REGISTRY_BASE=${REGISTRY_BASE:-python:3.11-slim}
LOCAL_BASE=${LOCAL_BASE:-modelport-base:bookworm}
WORK=build/image
DOCKER=${DOCKER:-docker}
mkdir -p "$WORK"

say() { echo "make image: $*" >&2; }

apt_install() {
  [ "$(id -u)" = 0 ] || { say "needs $* (apt-get install as root)"; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_daemon() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || apt_install docker.io
  command -v "$DOCKER" >/dev/null || DOCKER=/usr/bin/docker
  say "starting dockerd (log: $WORK/dockerd.log, pid: $WORK/dockerd.pid)"
  nohup dockerd >"$WORK/dockerd.log" 2>&1 &
  echo $! >"$WORK/dockerd.pid"
  for _ in $(seq 1 60); do
    if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  say "dockerd did not start; see $WORK/dockerd.log"
  exit 1
}

ensure_local_base() {
  if "$DOCKER" image inspect "$LOCAL_BASE" >/dev/null 2>&1; then return 0; fi
  command -v debootstrap >/dev/null || apt_install debootstrap
  local mirror rootfs="$WORK/rootfs"
  mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
           | awk '{print $2}' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  say "making $LOCAL_BASE with debootstrap from $mirror (about a minute)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,passwd bookworm "$rootfs" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { say "debootstrap failed: see $WORK/debootstrap.log"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$DOCKER" import - "$LOCAL_BASE" >/dev/null
  rm -rf "$rootfs"
}

# The wheels the build installs, resolved in the base itself; kept while the lock, the
# project's metadata and the extras stay the same.
ensure_wheelhouse() {
  local key
  key=$(cat requirements.lock pyproject.toml <(echo "$EXTRAS" "$LOCAL_BASE") | sha256sum | cut -c1-16)
  WHEELHOUSE="$WORK/wheelhouse-$key"
  if [ -f "$WHEELHOUSE/.complete" ]; then return 0; fi
  say "resolving the wheelhouse in $LOCAL_BASE ($WHEELHOUSE)"
  rm -rf "$WHEELHOUSE" "$WORK/self"
  mkdir -p "$WHEELHOUSE" "$WORK/self"
  "${PYTHON:-python3}" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/self" . 2>/dev/null
  local extras xgboost=""
  extras=$(echo ",$EXTRAS," | sed 's/,xgboost,/,/g; s/^,//; s/,$//')
  case ",$EXTRAS," in *,xgboost,*) xgboost=xgboost-cpu ;; esac
  local wheel
  wheel=$(basename "$WORK"/self/modelport-*.whl)
  # The host's certificate authorities (a proxy of the host's may sign with its own).
  local ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  "$DOCKER" run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp \
    -v "$(realpath "$ca"):/host-ca.crt:ro" -e PIP_CERT=/host-ca.crt \
    -v "$PWD/$WORK/self:/self:ro" -v "$PWD/requirements.lock:/requirements.lock:ro" \
    -v "$PWD/$WHEELHOUSE:/wheelhouse" "$LOCAL_BASE" \
    sh -euc "python3 -m venv /tmp/venv && /tmp/venv/bin/pip download --quiet --disable-pip-version-check \
      --dest /wheelhouse -c /requirements.lock 'modelport[$extras] @ file:///self/$wheel' $xgboost \
      'hatchling>=1.25' pip"
  rm -f "$WHEELHOUSE"/modelport-*.whl
  touch "$WHEELHOUSE/.complete"
}

build() {
  say "docker build -t $IMAGE $*"
  "$DOCKER" build -t "$IMAGE" --build-arg "EXTRAS=$EXTRAS" "$@" .
}

ensure_daemon
if [ "${OFFLINE:-}" != 1 ] && timeout 30 "$DOCKER" pull -q "$REGISTRY_BASE" >/dev/null 2>&1; then
  build --build-arg "BASE=$REGISTRY_BASE"
  exit 0
fi
say "no registry answers for $REGISTRY_BASE: building on a local base, offline"
ensure_local_base
ensure_wheelhouse
# A port that stays the same from one build to the next when it is free: the URL is a build
# argument, and a new one would invalidate the cached layers that install the packages.
port=$("${PYTHON:-python3}" -c '
import socket
for port in [*range(18765, 18775), 0]:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        break
')
"${PYTHON:-python3}" -m http.server "$port" --bind 127.0.0.1 --directory "$WHEELHOUSE" >"$WORK/wheelhouse-http.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  if "${PYTHON:-python3}" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.1
done
build --network host --build-arg "BASE=$LOCAL_BASE" \
  --build-arg PIP_NO_INDEX=1 --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/"
