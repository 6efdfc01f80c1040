#!/usr/bin/env bash
# Local Prometheus for TrackOps, from Debian's `prometheus` package.
#
#   bash infra/observability/prometheus.sh start [--install]   start on 127.0.0.1:9090 (--install: apt-get the package if missing)
#   bash infra/observability/prometheus.sh stop                stop the instance this script started
#   bash infra/observability/prometheus.sh status              running? ready? scrape targets and their health
#
# Config: infra/observability/prometheus.yml (+ alerts.yml). State under .stack/ (git-ignored):
#   data .stack/prometheus   pid .stack/run/prometheus.pid   log .stack/logs/prometheus.log
#
# The Debian package also ships a system service (systemd unit / init script) reading /etc/prometheus/prometheus.yml
# on the same port 9090. This script never touches that service; it refuses to start when anything else already
# listens on 9090 and tells you who it is. Override the address with PROMETHEUS_LISTEN=127.0.0.1:9091.
# Alerts' runbook_url links start with TRACKOPS_DOCS_URL (default file://<this checkout>), e.g. the repository's
# https://…/blob/main once it has a public address.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONFIG="$HERE/prometheus.yml"
STACK_DIR="$ROOT/.stack"
DATA_DIR="$STACK_DIR/prometheus"
PID_FILE="$STACK_DIR/run/prometheus.pid"
LOG_FILE="$STACK_DIR/logs/prometheus.log"
LISTEN=${PROMETHEUS_LISTEN:-127.0.0.1:9090}
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
URL="http://$LISTEN"
READY_SECONDS=${PROMETHEUS_READY_SECONDS:-60}
# Where alerts' runbook_url links point (the repository's files): this checkout unless told otherwise.
DOCS_URL=${TRACKOPS_DOCS_URL:-file://$ROOT}

step() { printf '==> %s\n' "$*"; }
ok()   { printf '  ✓ %s\n' "$*"; }
info() { printf '  %s\n' "$*"; }
die()  {
  printf '\n✗ %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  → %s\n' "$line" >&2; done
  exit 1
}

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

port_owner() {
  local pid
  pid=$(ss -ltnpH "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  if [[ -z $pid ]]; then echo "an unknown process (see: ss -ltnp 'sport = :$PORT')"; return; fi
  printf 'pid %s (%s)' "$pid" "$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-160)"
}

# The pid from our pid file, only if that process is alive and is the Prometheus we started (guards against pid reuse).
our_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -q -- "--config.file=$CONFIG" || return 1
  echo "$pid"
}

find_prometheus() {
  PROMETHEUS=$(command -v prometheus || true)
  [[ -z $PROMETHEUS && -x /usr/bin/prometheus ]] && PROMETHEUS=/usr/bin/prometheus
  [[ -n $PROMETHEUS ]]
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "root is needed for: $*" "run it as root, or install the package yourself"
  fi
}

install_prometheus() {
  step "Installing Debian's prometheus package (apt-get install -y --no-install-recommends prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y --no-install-recommends prometheus; then
    info "install failed; running apt-get update and retrying"
    if ! { as_root apt-get update && as_root apt-get install -y --no-install-recommends prometheus; }; then
      die "apt-get could not install prometheus" "check the apt sources / network and retry"
    fi
  fi
  find_prometheus || die "prometheus binary still missing after install" "dpkg -L prometheus | grep bin/"
  ok "installed $(dpkg-query -W -f='prometheus ${Version}' prometheus 2>/dev/null)"
}

http_get() { curl -fsS --max-time 3 "$URL$1" 2>/dev/null; }
ready() { http_get /-/ready >/dev/null; }

print_targets() {
  local json
  json=$(http_get /api/v1/targets) || { info "targets: API not answering"; return; }
  if command -v jq >/dev/null; then
    jq -r '.data.activeTargets[] | "  \(.labels.job)\t\(.scrapeUrl)\t\(.health)\(if .lastError != "" then "\t(" + .lastError + ")" else "" end)"' <<<"$json" |
      column -t -s $'\t' 2>/dev/null || jq -r '.data.activeTargets[] | "  \(.labels.job) \(.scrapeUrl) \(.health)"' <<<"$json"
  else
    grep -o '"scrapeUrl":"[^"]*"\|"health":"[a-z]*"' <<<"$json" | cut -d'"' -f4 | paste - - | sed 's/^/  /'
  fi
}

cmd_start() {
  local install=0 arg
  for arg in "$@"; do
    case $arg in
      --install) install=1 ;;
      *) usage 2 ;;
    esac
  done

  step "Prometheus on $LISTEN"
  local pid
  if pid=$(our_pid); then
    local at
    at=$(tr '\0' '\n' </proc/"$pid"/cmdline | sed -n 's/^--web.listen-address=//p')
    ok "already running (pid $pid): http://$at"
    [[ $at == "$LISTEN" ]] || info "note: it listens on $at, not $LISTEN; stop it first to move it"
    return 0
  fi

  if ! find_prometheus; then
    if ((install)); then
      install_prometheus
    else
      die "prometheus is not installed" \
        "install it: bash infra/observability/prometheus.sh start --install" \
        "or by hand: apt-get install -y --no-install-recommends prometheus"
    fi
  fi
  info "binary: $PROMETHEUS ($("$PROMETHEUS" --version 2>&1 | head -1))"

  if port_open; then
    die "port $PORT is already taken by $(port_owner)" \
      "if it is Debian's packaged service: systemctl stop prometheus (or: service prometheus stop); systemctl disable prometheus keeps it off" \
      "or run ours elsewhere: PROMETHEUS_LISTEN=$HOST:$((PORT + 1)) bash infra/observability/prometheus.sh start"
  fi

  mkdir -p "$DATA_DIR" "$(dirname "$PID_FILE")" "$(dirname "$LOG_FILE")"
  if command -v promtool >/dev/null; then
    local out
    out=$(promtool check config "$CONFIG" 2>&1) ||
      die "prometheus.yml / alerts.yml do not validate" "$out" "details: bash infra/observability/check.sh"
  fi
  info "log: $LOG_FILE"

  # setsid: its own session, so it outlives this shell and a Ctrl-C here does not reach it.
  # expand-external-labels: prometheus.yml's docs_url (the base of every runbook_url) is ${TRACKOPS_DOCS_URL}.
  TRACKOPS_DOCS_URL=$DOCS_URL setsid "$PROMETHEUS" \
    --config.file="$CONFIG" \
    --enable-feature=expand-external-labels \
    --storage.tsdb.path="$DATA_DIR" \
    --storage.tsdb.retention.time=7d \
    --web.listen-address="$LISTEN" \
    --web.enable-lifecycle \
    >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local start=$SECONDS
  while ! ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      printf '\n  last lines of %s:\n' "$LOG_FILE" >&2
      tail -n 15 "$LOG_FILE" | sed 's/^/    /' >&2
      die "prometheus exited during start-up" "fix the problem above (bash infra/observability/check.sh validates the config)"
    fi
    if ((SECONDS - start >= READY_SECONDS)); then
      die "prometheus (pid $pid) not ready after ${READY_SECONDS}s" "see $LOG_FILE; stop it with: bash infra/observability/prometheus.sh stop"
    fi
    sleep 1
  done
  ok "ready in $((SECONDS - start))s (pid $pid): $URL  (targets: $URL/targets, alerts: $URL/alerts)"
  info "runbook links: $DOCS_URL/infra/observability/README.md#… (TRACKOPS_DOCS_URL)"
}

cmd_stop() {
  step "Stopping Prometheus"
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    if port_open; then
      info "not started by this script; port $PORT belongs to $(port_owner) - left alone"
    else
      ok "not running"
    fi
    return 0
  fi
  kill -TERM "$pid"
  local i
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    info "still running after 15s; sending SIGKILL to pid $pid"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$PID_FILE"
  ok "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(our_pid); then
    if ready; then
      ok "running and ready (pid $pid): $URL"
    else
      info "running (pid $pid) but not ready yet: $URL/-/ready"
    fi
    info "targets:"
    print_targets
    return 0
  fi
  if port_open; then
    info "not started by this script, but port $PORT is taken by $(port_owner)"
    return 1
  fi
  info "not running (start: bash infra/observability/prometheus.sh start)"
  return 1
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) usage 0 ;;
  *) usage 2 ;;
esac
