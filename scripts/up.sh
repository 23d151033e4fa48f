#!/usr/bin/env bash
# Brings up a single-node shoal on this machine's Docker Engine with a demo service.
# Idempotent: what is already installed, built or running is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCK=${SHOAL_SOCK:-/var/run/shoal.sock}
DATA=${SHOAL_DATA_ROOT:-/var/lib/shoal}
LOG=${SHOAL_LOG:-/var/log/shoald.log}

bash scripts/setup-host.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent

shoal() { node bin/shoal.js -H "unix://$SOCK" "$@"; }

if ! shoal version >/dev/null 2>&1; then
  echo "== starting shoald (data root $DATA, log $LOG)"
  mkdir -p "$(dirname "$LOG")"
  nohup node bin/shoald.js --data-root "$DATA" -H "unix://$SOCK" >>"$LOG" 2>&1 &
  for _ in $(seq 1 100); do shoal version >/dev/null 2>&1 && break; sleep 0.1; done
  shoal version >/dev/null || { echo "shoald did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

if ! shoal node ls >/dev/null 2>&1; then
  shoal swarm init --advertise-addr 127.0.0.1
fi

if ! shoal service inspect demo >/dev/null 2>&1; then
  shoal service create --name demo --replicas 3 --restart-delay 1s --update-parallelism 1 \
    busybox:local sh -c 'while true; do echo "hello from $(hostname)"; sleep 5; done'
fi

shoal service ls
cat <<MSG

shoal is up (socket $SOCK). Try:
  export DOCKER_HOST=unix://$SOCK
  docker service ls
  docker service ps demo
  docker service logs -f demo
  docker service scale demo=5
  docker service update --env-add GREETING=hi demo
  docker service rollback demo
Or the same with our CLI: node bin/shoal.js -H unix://$SOCK service ls   (npx shoal ... from this folder)
Stop it with: kill \$(pgrep -f 'bin/shoald.js')   (containers keep running; a restart re-adopts them)
MSG
