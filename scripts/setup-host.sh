#!/usr/bin/env bash
# Installs and starts what shoal needs on this host, idempotently: Debian's docker.io,
# busybox-static and python3-docker, a running dockerd, and the busybox:local image (built offline, no registry).
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need_apt+=(busybox-static)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# docker-py, for the SDK end-to-end tests (test/e2e/docker-py.test.ts).
python3 -c 'import docker' >/dev/null 2>&1 || need_apt+=(python3-docker)
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
echo "host ready: dockerd up, busybox:local present"
