#!/usr/bin/env bash
# Starts, stops and shows the TrackOps node services under PM2, the supervisor (scripts/services.config.cjs): a
# service that exits is started again with backoff, and PM2's log (.stack/pm2/pm2.log) says when and why.
# Pid files in .stack/run, service logs in .stack/logs. A start takes the environment of the caller (on top of .env).
#   bash scripts/services.sh start|stop|restart|status [name ...]     names: orders inventory payments relay console
#   bash scripts/services.sh down      stop every service and the supervisor itself
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/.stack/run
LOGS=$ROOT/.stack/logs
mkdir -p "$RUN" "$LOGS"
NODE=$ROOT/node_modules/.bin/node
[ -x "$NODE" ] || { echo "node_modules/.bin/node is missing: run npm ci first"; exit 1; }
export PM2_HOME=$ROOT/.stack/pm2
CONFIG=$ROOT/scripts/services.config.cjs
pm2() { "$NODE" "$ROOT/node_modules/pm2/bin/pm2" "$@"; }

declare -A PORTS=([orders]=${ORDERS_PORT:-8081} [inventory]=${INVENTORY_PORT:-8082} [relay]=${RELAY_PORT:-8084} [payments]=${PAYMENTS_PORT:-8085} [console]=${CONSOLE_PORT:-8080})
ALL=(inventory payments orders relay console)

# "name status pid restarts id" for every process PM2 knows, one per line.
pm2_table() {
  pm2 jlist 2>/dev/null | "$NODE" -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      let list = []; try { list = JSON.parse(s.slice(s.indexOf("["))) } catch {}
      for (const p of list) console.log(p.name, p.pm2_env.status, p.pid || 0, p.pm2_env.restart_time ?? 0, p.pm_id)
    })'
}
supervised() { pm2_table | awk -v n="$1" '$1 == n && $2 != "stopped" { found = 1 } END { exit !found }'; }

start_one() {
  local name=$1 port=${PORTS[$1]}
  if supervised "$name"; then echo "  - $name already supervised ($(pm2_table | awk -v n="$name" '$1 == n { print $2 ", pid " $3 }'))"; return 0; fi
  if ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then
    echo "  ! port $port is taken by another process; stop it or set ${name^^}_PORT (ss -ltnp 'sport = :$port' shows who)"
    return 1
  fi
  pm2 start "$CONFIG" --only "$name" --update-env >/dev/null
  # PM2 keeps <name>-<id>.pid current across restarts; <name>.pid is the stable name tests and the bench read.
  ln -sfn "$name-$(pm2_table | awk -v n="$name" '$1 == n { print $5 }').pid" "$RUN/$name.pid"
  echo "  - $name starting under PM2 (log .stack/logs/$name.log)"
}

wait_one() {
  local name=$1 port=${PORTS[$1]} waited=0 restarts
  supervised "$name" || return 0
  restarts=$(pm2_table | awk -v n="$name" '$1 == n { print $4 }')
  while ! curl -fs "http://127.0.0.1:$port/actuator/health/liveness" >/dev/null 2>&1; do
    if (($(pm2_table | awk -v n="$name" '$1 == n { print $4 }') > restarts + 2)); then
      echo "  ! $name keeps exiting during start-up (PM2 restarts it with backoff); last lines of .stack/logs/$name.log:"
      tail -n 20 "$LOGS/$name.log" | sed 's/^/      /'
      return 1
    fi
    sleep 1; waited=$((waited + 1))
    if [ $((waited % 5)) -eq 0 ]; then echo "    waiting for $name on :$port … ${waited}s"; fi
    if [ $waited -ge 90 ]; then echo "  ! $name did not answer on :$port within 90 s; see .stack/logs/$name.log"; return 1; fi
  done
  echo "  - $name up on http://127.0.0.1:$port"
}

# Taken out of PM2 altogether (not just stopped), so the next start reads the caller's environment afresh.
stop_one() {
  local name=$1
  if pm2_table | awk -v n="$name" '$1 == n { found = 1 } END { exit !found }'; then
    pm2 delete "$name" >/dev/null 2>&1 || true
    echo "  - $name stopped"
  elif [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
    # started without the supervisor (an older start script): SIGTERM, then SIGKILL after 15 s
    local pid waited=0; pid=$(cat "$RUN/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      sleep 0.5; waited=$((waited + 1))
      if [ $waited -ge 30 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    echo "  - $name stopped"
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name"-[0-9]*.pid
}

status() {
  printf '%-10s %-16s %-8s %s\n' SERVICE STATE PID 'RESTARTS (by the supervisor)'
  local table; table=$(pm2_table)
  for n in "${names[@]}"; do
    read -r _ state pid restarts _ <<<"$(awk -v n="$n" '$1 == n' <<<"$table")" || true
    printf '%-10s %-16s %-8s %s\n' "$n" "${state:-not started}" "${pid:--}" "${restarts:--}"
  done
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
  status) status ;;
  down)
    for n in "${ALL[@]}"; do stop_one "$n"; done
    pm2 kill >/dev/null 2>&1 || true ;;
  *) echo "usage: bash scripts/services.sh start|stop|restart|status|down [orders inventory payments relay console]"; exit 2 ;;
esac
