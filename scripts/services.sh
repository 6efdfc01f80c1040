#!/usr/bin/env bash
# Starts or stops the TrackOps node services in the background (pid files in .stack/run, logs in .stack/logs).
#   bash scripts/services.sh start|stop|restart [name ...]     names: orders inventory payments relay console
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.stack/run
LOGS=$ROOT/.stack/logs
mkdir -p "$RUN" "$LOGS"
NODE=$ROOT/node_modules/.bin/node
[ -x "$NODE" ] || { echo "node_modules/.bin/node is missing: run npm ci first"; exit 1; }

declare -A PORTS=([orders]=${ORDERS_PORT:-8081} [inventory]=${INVENTORY_PORT:-8082} [relay]=${RELAY_PORT:-8084} [payments]=${PAYMENTS_PORT:-8085} [console]=${CONSOLE_PORT:-8080})
ALL=(inventory payments orders relay console)

entry() {
  case "$1" in
    console) echo "console/server.ts" ;;
    *) echo "services/$1/src/main.ts" ;;
  esac
}

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {
  local name=$1 port=${PORTS[$1]} file
  file=$(entry "$name")
  [ -f "$file" ] || { echo "  - $name: $file not built yet, skipped"; return 0; }
  if running "$name"; then echo "  - $name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  if ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then
    echo "  ! port $port is taken by another process; stop it or set ${name^^}_PORT (ss -ltnp 'sport = :$port' shows who)"
    return 1
  fi
  nohup "$NODE" --env-file-if-exists=.env "$file" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  echo "  - $name starting (pid $!, log .stack/logs/$name.log)"
}

wait_one() {
  local name=$1 port=${PORTS[$1]} waited=0
  [ -f "$RUN/$name.pid" ] || return 0
  while ! curl -fs "http://127.0.0.1:$port/actuator/health/liveness" >/dev/null 2>&1; do
    if ! running "$name"; then
      echo "  ! $name exited during start-up; last lines of .stack/logs/$name.log:"
      tail -n 20 "$LOGS/$name.log" | sed 's/^/      /'
      return 1
    fi
    sleep 1; waited=$((waited + 1))
    if [ $((waited % 5)) -eq 0 ]; then echo "    waiting for $name on :$port … ${waited}s"; fi
    if [ $waited -ge 90 ]; then echo "  ! $name did not answer on :$port within 90 s; see .stack/logs/$name.log"; return 1; fi
  done
  echo "  - $name up on http://127.0.0.1:$port"
}

stop_one() {
  local name=$1 pid waited=0
  running "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  pid=$(cat "$RUN/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5; waited=$((waited + 1))
    if [ $waited -ge 30 ]; then echo "  ! $name did not stop in 15 s; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$RUN/$name.pid"
  echo "  - $name stopped"
}

cmd=${1:-}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
case "$cmd" in
  start)
    for n in "${names[@]}"; do start_one "$n"; done
    for n in "${names[@]}"; do wait_one "$n"; done ;;
  stop)
    for n in "${names[@]}"; do stop_one "$n"; done ;;
  restart)
    for n in "${names[@]}"; do stop_one "$n"; done
    for n in "${names[@]}"; do start_one "$n"; done
    for n in "${names[@]}"; do wait_one "$n"; done ;;
  *) echo "usage: bash scripts/services.sh start|stop|restart [orders inventory payments relay console]"; exit 2 ;;
esac
