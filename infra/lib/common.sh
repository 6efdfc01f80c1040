# Shared helpers for infra/stack.sh (sourced, not run).
# Every failure goes through die(): one line naming the problem, then what to do next.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
INFRA="$ROOT/infra"
STACK_DIR="$ROOT/.stack"          # runtime state: data, logs, pid files, generated configs
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"
CONF_DIR="$STACK_DIR/conf"
KAFKA_DATA="$STACK_DIR/kafka-data"
JARS_DIR="$ROOT/.kafka"           # jars from Maven Central, fetched once

KAFKA_VERSION=4.1.2
DEBEZIUM_VERSION=3.5.2.Final
KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
CONNECT_PORT=8083
CONNECT_URL="http://$KAFKA_HOST:$CONNECT_PORT"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

PG_HOST=${TRACKOPS_PG_HOST:-127.0.0.1}
PG_PORT=${TRACKOPS_PG_PORT:-5432}
PG_ADMIN_USER=${TRACKOPS_PG_ADMIN_USER:-postgres}
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

WAIT_SECONDS=${STACK_WAIT_SECONDS:-180}

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

if [[ -t 1 ]]; then
  B=$'\e[1m' R=$'\e[31m' G=$'\e[32m' Y=$'\e[33m' D=$'\e[2m' N=$'\e[0m'
else
  B='' R='' G='' Y='' D='' N=''
fi

step() { printf '%s==>%s %s\n' "$B" "$N" "$*"; }
ok()   { printf '  %s✓%s %s\n' "$G" "$N" "$*"; }
info() { printf '  %s\n' "$*"; }
warn() { printf '  %s!%s %s\n' "$Y" "$N" "$*" >&2; }

# die "problem" ["what to do next" ...]
die() {
  printf '\n%s✗ %s%s\n' "$R$B" "$1" "$N" >&2
  shift
  local line
  for line in "$@"; do printf '  → %s\n' "$line" >&2; done
  exit 1
}

loud() {
  printf '%s!!! %s%s\n' "$Y$B" "$*" "$N"
}

# True when something accepts TCP connections on host:port.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# "pid=123 (java -cp …)" for whoever listens on a local port, or "" if unknown.
port_owner() {
  local port=$1 pid
  pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [[ -z $pid ]] && { echo "unknown process (run: ss -ltnp 'sport = :$port')"; return; }
  printf 'pid %s (%s)' "$pid" "$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-120)"
}

# wait_for "what" seconds command… — polls once a second with a progress line.
# If WATCH_PID is set and that process dies, stops at once and shows WATCH_LOG's tail.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local start=$SECONDS elapsed
  while ! "$@" >/dev/null 2>&1; do
    elapsed=$((SECONDS - start))
    if [[ -n ${WATCH_PID:-} ]] && ! kill -0 "$WATCH_PID" 2>/dev/null; then
      [[ -t 1 ]] && printf '\n'
      show_log_tail "${WATCH_LOG:-}"
      show_log_tail "${WATCH_OUT:-}"
      die "$what: the process (pid $WATCH_PID) exited while starting" \
          "read the log above (full log: ${WATCH_LOG:-n/a})"
    fi
    if ((elapsed >= timeout)); then
      [[ -t 1 ]] && printf '\n'
      show_log_tail "${WATCH_LOG:-}"
      die "gave up waiting for $what after ${timeout}s" \
          "check the log${WATCH_LOG:+ ($WATCH_LOG)}; raise the limit with STACK_WAIT_SECONDS=300 on a slow machine"
    fi
    if [[ -t 1 ]]; then
      printf '\r  waiting for %s … %ds ' "$what" "$elapsed"
    elif ((elapsed % 5 == 0)); then
      printf '  waiting for %s … %ds\n' "$what" "$elapsed"
    fi
    sleep 1
  done
  [[ -t 1 ]] && printf '\r\e[K'
  return 0
}

show_log_tail() {
  local f=$1
  [[ -n $f && -s $f ]] || return 0
  printf '%s--- last lines of %s ---%s\n' "$D" "$f" "$N" >&2
  tail -n 40 "$f" >&2
  printf '%s---%s\n' "$D" "$N" >&2
}

# Pid from .stack/run/<name>.pid if that process is alive and its command line contains $2.
running_pid() {
  local name=$1 marker=$2 pidfile="$RUN_DIR/$1.pid" pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -z $marker ]] || tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -q -- "$marker" || return 1
  echo "$pid"
}

# stop_pid name pid seconds — SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 grace=${3:-30} start=$SECONDS
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - start >= grace)); then
      warn "$name (pid $pid) did not stop within ${grace}s: killing it"
      kill -KILL "$pid" 2>/dev/null
      sleep 1
      break
    fi
    [[ -t 1 ]] && printf '\r  stopping %s (pid %s) … %ds ' "$name" "$pid" $((SECONDS - start))
    sleep 1
  done
  [[ -t 1 ]] && printf '\r\e[K'
  ok "$name stopped (pid $pid, $((SECONDS - start))s)"
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "no Java found (${JAVA})" "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
  local v major
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  major=${v%%.*}
  [[ $major =~ ^[0-9]+$ ]] && ((major >= 17)) ||
    die "Java $v is too old: Kafka $KAFKA_VERSION needs Java 17 or newer" "install openjdk-17-jdk-headless or point JAVA_HOME at a JDK 17+"
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed" "$2"
}

# Minimal JSON string-field reader for the flat answers of the Connect REST API (no jq needed).
# json_field '"connector":{"state":"RUNNING"…' state → first value of "state".
json_field() {
  grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | head -1 | sed "s/^\"$2\":\"//; s/\"$//"
}
