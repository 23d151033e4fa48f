#!/usr/bin/env bash
# Installs and starts what shoal needs on this host, idempotently: Debian's docker.io,
# busybox-static and python3-docker, a running dockerd, the busybox:local image (built offline), and two
# local registries on loopback with test images in them (see "registries" below).
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# Namespace hosts (test/support/nshosts.ts): unshare and nsenter.
{ command -v unshare && command -v nsenter; } >/dev/null 2>&1 || need_apt+=(util-linux)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The data plane: nftables for VIP rules, iperf3 for the overlay throughput bench.
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v iperf3 >/dev/null 2>&1 || need_apt+=(iperf3)
# docker-py, for the SDK end-to-end tests (test/e2e/docker-py.test.ts).
python3 -c 'import docker' >/dev/null 2>&1 || need_apt+=(python3-docker)
# The local registries for image pull tests, and htpasswd (bcrypt) for the one that needs a login.
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need_apt+=(apache2-utils)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need_apt[*]}; run as root or install them first" >&2
    exit 1
  fi
  echo "== apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

DOCKER="docker -H unix:///var/run/docker.sock"
if ! $DOCKER version >/dev/null 2>&1; then
  echo "== starting dockerd"
  mkdir -p /var/log
  # Its own session: a caller whose process group is killed (a job runner, a test harness) must
  # not take the node's engine down with it.
  setsid nohup dockerd >>/var/log/shoal-ci-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    $DOCKER version >/dev/null 2>&1 && break
    sleep 0.5
  done
  $DOCKER version >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/shoal-ci-dockerd.log" >&2; tail -20 /var/log/shoal-ci-dockerd.log >&2; exit 1; }
fi

if ! $DOCKER image inspect busybox:local >/dev/null 2>&1; then
  echo "== building busybox:local from busybox-static"
  bb=$(command -v busybox || echo /bin/busybox)
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/var/www" "$root/run"
  cp "$bb" "$root/bin/busybox"
  for c in $("$bb" --list); do
    [ "$c" = busybox ] || ln -sf busybox "$root/bin/$c"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -c . | $DOCKER import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - busybox:local >/dev/null
  rm -rf "$root"
fi
# ---- registries ----
# Two instances of Debian's docker-registry, on loopback only (dockerd treats 127.0.0.0/8 as an
# insecure registry, so plain HTTP is accepted there, and so is basic auth over it):
#   127.0.0.1:5000  open;            has shoal/busybox:1 and shoal/busybox:latest
#   127.0.0.1:5001  htpasswd login;  user shoal, password shoal-registry-pass; has shoal/private:1
# Their tags are removed from the engine afterwards: only the registries have them.
REG_ROOT=/var/lib/shoal-ci/registry
start_registry() { # name port [auth]
  local name=$1 port=$2 auth=${3:-}
  if curl -s -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then return 0; fi
  mkdir -p "$REG_ROOT/$name/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $REG_ROOT/$name/data}"
    echo "  delete: {enabled: true}"
    echo "http: {addr: 127.0.0.1:$port}"
    if [ -n "$auth" ]; then
      echo "auth:"
      echo "  htpasswd: {realm: shoal-test, path: $REG_ROOT/htpasswd}"
    fi
  } >"$REG_ROOT/$name/config.yml"
  echo "== starting registry $name on 127.0.0.1:$port"
  setsid nohup docker-registry serve "$REG_ROOT/$name/config.yml" >>"/var/log/shoal-ci-registry-$name.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0
    sleep 0.1
  done
  echo "registry $name did not start; see /var/log/shoal-ci-registry-$name.log" >&2
  exit 1
}
mkdir -p "$REG_ROOT"
[ -s "$REG_ROOT/htpasswd" ] || htpasswd -Bbn shoal shoal-registry-pass >"$REG_ROOT/htpasswd"
start_registry open 5000
start_registry auth 5001 auth

has_manifest() { # port repo tag [user:pass]
  curl -sf -o /dev/null ${4:+-u "$4"} -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$1/v2/$2/manifests/$3"
}
push_image() { # ref
  $DOCKER tag busybox:local "$1"
  $DOCKER push "$1" >/dev/null
  $DOCKER rmi "$1" >/dev/null
}
if ! has_manifest 5000 shoal/busybox 1 || ! has_manifest 5000 shoal/busybox latest; then
  echo "== pushing shoal/busybox to 127.0.0.1:5000"
  push_image 127.0.0.1:5000/shoal/busybox:1
  push_image 127.0.0.1:5000/shoal/busybox:latest
fi
if ! has_manifest 5001 shoal/private 1 shoal:shoal-registry-pass; then
  echo "== pushing shoal/private to 127.0.0.1:5001"
  # A throwaway client config: the login is not left in root's ~/.docker.
  cfg=$(mktemp -d)
  echo shoal-registry-pass | DOCKER_CONFIG=$cfg $DOCKER login -u shoal --password-stdin 127.0.0.1:5001 >/dev/null 2>&1
  DOCKER_CONFIG=$cfg $DOCKER tag busybox:local 127.0.0.1:5001/shoal/private:1
  DOCKER_CONFIG=$cfg $DOCKER push 127.0.0.1:5001/shoal/private:1 >/dev/null
  $DOCKER rmi 127.0.0.1:5001/shoal/private:1 >/dev/null
  rm -rf "$cfg"
fi
echo "host ready: dockerd up, busybox:local present, registries on 127.0.0.1:5000 (open) and :5001 (login)"
