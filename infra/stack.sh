#!/usr/bin/env bash
# TrackOps local stack without Docker: PostgreSQL and Redis of this machine, Kafka + Kafka Connect with
# Debezium from Maven Central jars. See infra/README.md.
#
#   stack.sh up          PostgreSQL (logical WAL, dbs, roles), Redis, Kafka, topics, Kafka Connect
#   stack.sh connectors  register the Debezium connectors (after the services' migrations) and wait for RUNNING
#   stack.sh status      one line per component, connector and service
#   stack.sh down        stop the services (and their supervisor), Kafka Connect and Kafka; PostgreSQL/Redis stay
#   stack.sh reset       down, drop the connectors' replication slots, wipe .stack/kafka-data
#   stack.sh topics      create missing topics from infra/topics.txt
#   stack.sh connectors-remove [--drop-slots]   unregister the connectors (and forget their offsets and slots)
#   stack.sh connectors-reset-offsets [name…]   forget stored offsets: continue from each slot's position
#   stack.sh slots-recover   after a replication slot was lost: new slot, outbox reconciled, connector registered
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$INFRA/lib/postgres.sh"
source "$INFRA/lib/redis.sh"
source "$INFRA/lib/kafka.sh"
source "$INFRA/lib/connectors.sh"

SERVICES=("orders 8081" "inventory 8082" "relay 8084" "payments 8085" "console 8080")

cmd_up() {
  local start=$SECONDS
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$CONF_DIR"
  require_java
  ensure_postgres
  ensure_redis
  fetch_jars
  start_kafka
  step "Kafka topics from infra/topics.txt"
  ensure_topics "$INFRA/topics.txt"
  start_connect
  printf '\n%sstack up in %ss%s: PostgreSQL %s:%s, Redis %s:%s, Kafka %s, Kafka Connect %s\n' \
    "$G$B" $((SECONDS - start)) "$N" "$PG_HOST" "$PG_PORT" "$REDIS_HOST" "$REDIS_PORT" "$BOOTSTRAP" "$CONNECT_URL"
  info "next: migrations, then bash infra/stack.sh connectors (npm run up does all of it)"
}

# The services run under the supervisor of scripts/services.sh (PM2): stopping them there keeps them stopped.
# A pid file left by anything else (an older checkout's start script) is stopped directly.
stop_services() {
  local f name pid
  [[ -f $ROOT/scripts/services.sh && -x $ROOT/node_modules/.bin/node ]] && bash "$ROOT/scripts/services.sh" down
  shopt -s nullglob
  for f in "$RUN_DIR"/*.pid; do
    name=$(basename "$f" .pid)
    [[ $name == kafka || $name == connect ]] && continue
    if pid=$(running_pid "$name" node); then
      stop_pid "$name" "$pid" 20
    else
      info "$name is not running (stale pid file removed)"
    fi
    rm -f "$f"
  done
  shopt -u nullglob
}

cmd_down() {
  step "stopping the TrackOps stack (PostgreSQL and Redis are system services and keep running)"
  mkdir -p "$RUN_DIR"
  stop_services
  stop_jvm connect ConnectDistributed
  stop_jvm kafka kafka.Kafka
}

cmd_reset() {
  cmd_down
  step "reset: dropping replication slots and Kafka data"
  drop_slots
  rm -rf "$KAFKA_DATA" "$STACK_DIR/classes"
  ok "wiped .stack/kafka-data (topics, consumer offsets, Connect configs and offsets)"
  info "next: npm run up"
}

cmd_status() {
  local fmt='%-28s %-9s %s\n' pid wal ver json states name port code health
  printf "$B$fmt$N" COMPONENT STATE DETAIL
  if pg_connect_admin; then
    wal=$(pg_value 'show wal_level')
    ver=$(pg_value 'show server_version' | cut -d' ' -f1)
    printf "$fmt" PostgreSQL up "$PG_HOST:$PG_PORT, $ver, wal_level=$wal$([[ $wal == logical ]] || echo ' (Debezium needs logical: run stack.sh up)')"
  else
    printf "$fmt" PostgreSQL DOWN "$PG_HOST:$PG_PORT not answering"
  fi
  if redis_ping; then printf "$fmt" Redis up "$REDIS_HOST:$REDIS_PORT"; else printf "$fmt" Redis DOWN "$REDIS_HOST:$REDIS_PORT"; fi
  if pid=$(running_pid kafka kafka.Kafka) && kafka_answers; then
    printf "$fmt" Kafka up "$BOOTSTRAP, pid $pid, RSS $(rss_mb "$pid") MiB"
  elif kafka_answers; then
    printf "$fmt" Kafka up "$BOOTSTRAP (not started by this stack: $(port_owner "$KAFKA_PORT"))"
  else
    printf "$fmt" Kafka DOWN "$BOOTSTRAP"
  fi
  if connect_has_debezium; then
    pid=$(running_pid connect ConnectDistributed || true)
    printf "$fmt" "Kafka Connect" up "$CONNECT_URL${pid:+, pid $pid, RSS $(rss_mb "$pid") MiB}"
    for name in "${CONNECTORS[@]}"; do
      json=$(connect_get "/connectors/$name/status" 2>/dev/null || true)
      if [[ $json == *'"connector"'* ]]; then
        states=$(status_states "$json")
        printf "$fmt" "  $name" "${states%% *}" "task ${states#* }"
      else
        printf "$fmt" "  $name" "-" "not registered (bash infra/stack.sh connectors)"
      fi
    done
  else
    printf "$fmt" "Kafka Connect" DOWN "$CONNECT_URL"
  fi
  for entry in "${SERVICES[@]}"; do
    read -r name port <<<"$entry"
    if ! port_open 127.0.0.1 "$port"; then
      printf "$fmt" "$name" "-" "http://127.0.0.1:$port not running"
      continue
    fi
    json=$(curl -sS -m 3 -w '\n%{http_code}' "http://127.0.0.1:$port/actuator/health" 2>/dev/null || true)
    code=${json##*$'\n'}
    health=$(json_field "${json%$'\n'*}" status)
    printf "$fmt" "$name" up "http://127.0.0.1:$port, /actuator/health: ${health:-?} (HTTP ${code:-none})"
  done
  if [[ -d $STACK_DIR/pm2 && -x $ROOT/node_modules/.bin/node ]]; then
    printf '\n%ssupervisor (PM2; its log: .stack/pm2/pm2.log)%s\n' "$B" "$N"
    bash "$ROOT/scripts/services.sh" status | sed 's/^/  /'
  fi
  return 0
}

rss_mb() { echo $(($(awk '/^VmRSS/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0) / 1024)); }

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  connectors) register_connectors ;;
  connectors-remove) remove_connectors "${2:-}" ;;
  connectors-reset-offsets) shift; reset_connector_offsets "$@" ;;
  slots-recover) recover_lost_slots ;;
  reset) cmd_reset ;;
  topics) ensure_topics "$INFRA/topics.txt" ;;
  *)
    sed -n '2,15s/^# \{0,1\}//p' "$0"
    [[ -z ${1:-} || ${1:-} == -h || ${1:-} == --help ]] || exit 2 ;;
esac
