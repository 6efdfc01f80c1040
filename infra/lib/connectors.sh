# Debezium connectors from the templates in infra/connectors/ (sourced by infra/stack.sh).
# Registered only after the services' migrations ran: they need the publications and the SELECT grants.

OUTBOX_CONNECTORS=(trackops-orders-outbox trackops-inventory-outbox trackops-payments-outbox)
CDC_CONNECTORS=(trackops-orders-cdc trackops-inventory-cdc)
CONNECTORS=("${OUTBOX_CONNECTORS[@]}" "${CDC_CONNECTORS[@]}")

# template_value <connector> <key> — a value from the template (flat JSON, one key per line).
template_value() {
  sed -n "s/^ *\"$2\": *\"\(.*\)\",\{0,1\} *$/\1/p" "$INFRA/connectors/$1.json" | head -1
}

json_escape() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '%s' "$s"
}

render_connector() {
  local body
  body=$(<"$INFRA/connectors/$1.json")
  # PostgreSQL as Kafka Connect sees it (under docker compose: postgres:5432).
  body=${body//@PG_HOST@/$(json_escape "${TRACKOPS_CDC_PG_HOST:-$PG_HOST}")}
  body=${body//@PG_PORT@/$(json_escape "${TRACKOPS_CDC_PG_PORT:-$PG_PORT}")}
  body=${body//@CDC_DB_PASSWORD@/$(json_escape "${CDC_DB_PASSWORD:-cdc_dev_pw}")}
  printf '%s' "$body"
}

connect_get() { curl -sS -m 5 "$CONNECT_URL$1"; }

# Connect answers {"name":…,"connector":{"state":…},"tasks":[{"id":0,"state":…}],…}: the first "state"
# is the connector's, the second the (single) task's.
status_states() { # json → "CONNECTOR TASK"
  local states
  states=$(grep -o '"state":"[A-Z_]*"' <<<"$1" | cut -d'"' -f4 | tr '\n' ' ')
  read -r c t _ <<<"$states"
  echo "${c:-?} ${t:-NONE}"
}

print_trace() { # status json
  printf '%s--- failure trace ---%s\n' "$D" "$N" >&2
  if command -v jq >/dev/null 2>&1; then
    jq -r '[.connector.trace, (.tasks[]?.trace)] | map(select(. != null)) | .[]' <<<"$1" | head -60 >&2
  else
    grep -o '"trace":"\([^"\\]\|\\.\)*"' <<<"$1" | sed 's/^"trace":"//; s/"$//; s/\\n/\n/g; s/\\t/\t/g; s/\\"/"/g' | head -60 >&2
  fi
  printf '%s---%s\n' "$D" "$N" >&2
}

# Before registering: each publication must exist with its tables, and trackops_cdc must read them;
# otherwise Debezium would only fail later with a less helpful trace.
check_connector_prerequisites() {
  local name=$1 db pub tables t
  db=$(template_value "$name" database.dbname)
  pub=$(template_value "$name" publication.name)
  tables=$(template_value "$name" table.include.list)
  [[ -n $(pg_admin "$db" -Atc "select 1 from pg_publication where pubname = '$pub'" 2>/dev/null) ]] ||
    die "$name: publication $pub does not exist in database $db" \
        "the services' migrations create it (see 'Contract with the migrations' in infra/README.md)" \
        "run the migrations first (npx node scripts/migrate.ts), then: bash infra/stack.sh connectors"
  for t in ${tables//,/ }; do
    [[ -n $(pg_admin "$db" -Atc "select 1 from pg_publication_tables where pubname = '$pub' and schemaname || '.' || tablename = '$t'") ]] ||
      die "$name: table $t is not in publication $pub (database $db)" \
          "the migration must run: ALTER PUBLICATION $pub ADD TABLE $t;  (or create the publication FOR TABLE $t)"
    [[ $(pg_admin "$db" -Atc "select has_table_privilege('trackops_cdc', '$t', 'SELECT')") == t ]] ||
      die "$name: role trackops_cdc cannot SELECT $t in database $db" \
          "the migration must run: GRANT SELECT ON $t TO trackops_cdc;"
  done
}

put_config() { # name body → http code (retries while the worker is rebalancing)
  local name=$1 body=$2 code start=$SECONDS out="$STACK_DIR/connect-put.out"
  while :; do
    code=$(curl -sS -m 30 -o "$out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
      --data-binary "$body" "$CONNECT_URL/connectors/$name/config" 2>>"$out") || code=000
    case $code in
      200 | 201) return 0 ;;
      409 | 500 | 000) ((SECONDS - start < 60)) || break; sleep 2 ;;   # rebalance in progress / not ready yet
      *) break ;;
    esac
  done
  cat "$out" >&2
  echo >&2
  die "registering connector $name failed (HTTP $code)" "the answer of Kafka Connect is above; log: .stack/logs/connect.log"
}

connector_running() { [[ $(status_states "$(connect_get "/connectors/$1/status" 2>/dev/null)") == "RUNNING RUNNING" ]]; }

# Waits for RUNNING/RUNNING; stops with the trace on FAILED.
wait_connector() {
  local name=$1 start=$SECONDS json states stable=0
  while :; do
    json=$(connect_get "/connectors/$name/status" 2>/dev/null || true)
    states=$(status_states "$json")
    case $states in
      "RUNNING RUNNING")
        # A task that cannot reach PostgreSQL or its slot fails within a second or two of starting,
        # and right after a config change the status may still be the old task's: see it hold.
        if ((++stable >= 3)); then
          [[ -t 1 ]] && printf '\r\e[K'
          ok "$name: connector RUNNING, task RUNNING ($((SECONDS - start))s)"
          return 0
        fi ;;
      FAILED* | *FAILED)
        [[ -t 1 ]] && printf '\n'
        print_trace "$json"
        [[ $json == *"no longer available on the server"* ]] &&
          die "connector $name is FAILED: the offset Kafka Connect stored for it is older than what its replication slot still holds" \
              "Kafka's data was reset, or another TrackOps checkout consumed the same PostgreSQL slots; the changes in between are not on this Kafka" \
              "to continue from the slot's position (accepting that gap): bash infra/stack.sh connectors-reset-offsets $name  (no name: every connector)"
        die "connector $name is FAILED (connector/task: ${states/ //})" \
            "the trace above names the cause; more in .stack/logs/connect.log" \
            "after fixing it: bash infra/stack.sh connectors (restarts failed connectors)" ;;
      *) stable=0 ;;
    esac
    if ((SECONDS - start >= WAIT_SECONDS)); then
      [[ -t 1 ]] && printf '\n'
      die "$name did not reach RUNNING within ${WAIT_SECONDS}s (connector/task: ${states/ //})" \
          "read .stack/logs/connect.log; a long-running transaction on PostgreSQL delays replication slot creation"
    fi
    if [[ -t 1 ]]; then
      printf '\r  waiting for %s to be RUNNING (now %s) … %ds ' "$name" "${states/ //}" $((SECONDS - start))
    elif (((SECONDS - start) % 5 == 0)); then
      printf '  waiting for %s to be RUNNING (now %s) … %ds\n' "$name" "${states/ //}" $((SECONDS - start))
    fi
    sleep 1
  done
}

register_connectors() {
  step "Debezium connectors on $CONNECT_URL"
  connect_has_debezium || die "Kafka Connect is not running on $CONNECT_URL (or lacks the Debezium plugin)" \
    "start the stack first: bash infra/stack.sh up"
  pg_connect_admin || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT" "run: bash infra/stack.sh up"
  local name states wanted=("${CONNECTORS[@]}")
  # With EVENT_PUBLISHING_STRATEGY=outbox the relay publishes the outbox rows: Debezium must not as well.
  if [[ ${EVENT_PUBLISHING_STRATEGY:-debezium} == outbox ]]; then
    info "EVENT_PUBLISHING_STRATEGY=outbox: the relay publishes the outbox, only the raw CDC connectors run"
    wanted=("${CDC_CONNECTORS[@]}")
    for name in "${OUTBOX_CONNECTORS[@]}"; do remove_connector "$name" --drop-slot; done
  fi
  for name in "${wanted[@]}"; do
    check_connector_prerequisites "$name"
    grep -q "^__debezium-heartbeat.$(template_value "$name" topic.prefix) " "$INFRA/connectors/heartbeat-topics.txt" ||
      die "$name: its heartbeat topic is missing from infra/connectors/heartbeat-topics.txt" \
          "add: __debezium-heartbeat.$(template_value "$name" topic.prefix) 1"
  done
  ok "publications, tables and SELECT grants for trackops_cdc are in place"
  # The broker does not auto-create topics: the heartbeat topics are created here (under docker compose
  # the kafka-topics service did it).
  if [[ -f $JARS_DIR/broker/.complete ]]; then
    ensure_topics "$INFRA/connectors/heartbeat-topics.txt"
  fi
  for name in "${wanted[@]}"; do
    put_config "$name" "$(render_connector "$name")"
    states=$(status_states "$(connect_get "/connectors/$name/status" 2>/dev/null || true)")
    if [[ $states == *FAILED* ]]; then
      info "$name was FAILED: restarting it"
      curl -sS -m 30 -o /dev/null -X POST "$CONNECT_URL/connectors/$name/restart?includeTasks=true&onlyFailed=true" || true
      sleep 2
    fi
    info "registered $name (slot $(template_value "$name" slot.name), publication $(template_value "$name" publication.name))"
  done
  for name in "${wanted[@]}"; do wait_connector "$name"; done
}

slot_released() {
  [[ $(pg_value "select coalesce(bool_or(active), false) from pg_replication_slots where slot_name = '$1'") == f ]]
}

# remove_connector <name> [--drop-slot]: without the flag only the registration goes (offsets and slot
# stay, so registering again resumes where it stopped); with it, the connector's offsets and its
# replication slot go too, so a later registration starts from "now".
remove_connector() {
  local name=$1 slot code
  slot=$(template_value "$name" slot.name)
  code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$CONNECT_URL/connectors/$name" || true)
  if [[ $code == 200 ]]; then
    if [[ ${2:-} == --drop-slot ]]; then
      curl -sS -m 30 -o /dev/null -X PUT "$CONNECT_URL/connectors/$name/stop"
      wait_for "$name to stop" 60 connector_stopped "$name"
      code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X DELETE "$CONNECT_URL/connectors/$name/offsets" || true)
      [[ $code == 200 ]] || warn "deleting the offsets of $name answered HTTP $code"
    fi
    curl -sS -m 30 -o /dev/null -X DELETE "$CONNECT_URL/connectors/$name"
    ok "removed $name${2:+ and its offsets}"
  else
    info "$name is not registered"
  fi
  if [[ ${2:-} == --drop-slot ]] && [[ -n $(pg_value "select 1 from pg_replication_slots where slot_name = '$slot'") ]]; then
    wait_for "replication slot $slot to be released" 30 slot_released "$slot"
    pg_value "select pg_drop_replication_slot('$slot')" >/dev/null
    ok "dropped replication slot $slot"
  fi
}

# Forgets a connector's stored offsets so it starts from its replication slot's position (Kafka Connect 3.6+ REST:
# stop, DELETE offsets, resume), then waits for RUNNING.
reset_connector_offsets() {
  local names=("$@") name code
  ((${#names[@]})) || names=("${CONNECTORS[@]}")
  step "resetting the stored offsets of: ${names[*]}"
  connect_has_debezium || die "Kafka Connect is not running on $CONNECT_URL" "start it: bash infra/stack.sh up"
  for name in "${names[@]}"; do
    code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X PUT "$CONNECT_URL/connectors/$name/stop") || code=000
    [[ $code == 20? ]] || die "stopping connector $name failed (HTTP $code)" "is it registered? bash infra/stack.sh connectors"
    wait_for "$name to be STOPPED" 30 connector_stopped "$name"
    code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X DELETE "$CONNECT_URL/connectors/$name/offsets") || code=000
    [[ $code == 200 ]] || die "deleting the offsets of $name failed (HTTP $code)" "see .stack/logs/connect.log"
    code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X PUT "$CONNECT_URL/connectors/$name/resume") || code=000
    [[ $code == 20? ]] || die "resuming connector $name failed (HTTP $code)" "see .stack/logs/connect.log"
    wait_connector "$name"
  done
}

connector_stopped() { [[ $(status_states "$(connect_get "/connectors/$1/status" 2>/dev/null)") == STOPPED* ]]; }

remove_connectors() {
  local name
  [[ -z ${1:-} || $1 == --drop-slots ]] || die "unknown option '$1'" "usage: bash infra/stack.sh connectors-remove [--drop-slots]"
  if [[ ${1:-} == --drop-slots ]]; then
    step "removing the Debezium connectors, their offsets and their replication slots"
  else
    step "removing the Debezium connectors (offsets and slots kept; --drop-slots removes them too)"
  fi
  connect_has_debezium || die "Kafka Connect is not running on $CONNECT_URL" "start it: bash infra/stack.sh up"
  pg_connect_admin || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT" "start it and re-run"
  for name in "${CONNECTORS[@]}"; do remove_connector "$name" ${1:+--drop-slot}; done
}

# The relay publishes every outbox row of one service database that nothing marked published (POST
# /api/events/reconcile), signed as an admin with the local secret.
reconcile_outbox() {
  local source=$1 token answer code
  token=$("$ROOT/node_modules/.bin/node" --env-file-if-exists="$ROOT/.env" "$ROOT/scripts/token.ts" --role admin --ttl 600) ||
    die "could not sign an admin token for the relay" "set JWT_SECRET (or TRACKOPS_DEV_MODE=true) as the services have it"
  answer=$(curl -sS -m 600 -w '\n%{http_code}' -X POST -H "authorization: Bearer $token" "${RELAY_URL:-http://127.0.0.1:8084}/api/events/reconcile?source=$source") || answer=$'\n000'
  code=${answer##*$'\n'}
  [[ $code == 200 ]] || die "the relay did not reconcile the $source outbox (HTTP $code): ${answer%$'\n'*}" \
    "start the relay (npm run services:start) and run this again: the slot exists now, nothing more is lost"
  ok "relay published the $source outbox again: $(grep -o '"published":[0-9]*' <<<"${answer%$'\n'*}" | cut -d: -f2) rows (consumers drop the ones they had by message id)"
}

# After a replication slot was lost (its connector stopped for longer than max_slot_wal_keep_size allows), the
# connector cannot resume. For each lost slot of a TrackOps connector: remove the connector with its offsets and
# the slot; create the slot again at once, so every change from now on is kept for it; for an outbox connector,
# have the relay publish every row its outbox still holds (pruning keeps the whole outbox while a slot of the
# database is not read, so that includes everything the connector never read); then register the connectors again,
# and each streams from its new slot.
recover_lost_slots() {
  local lost slot name db candidate
  step "replication slots lost (wal_status = lost)"
  pg_connect_admin || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT" "start it and re-run"
  lost=$(pg_value "select slot_name from pg_replication_slots where wal_status = 'lost' order by slot_name")
  if [[ -z $lost ]]; then
    ok "no replication slot is lost"
    return 0
  fi
  connect_has_debezium || die "Kafka Connect is not running on $CONNECT_URL" "start it: bash infra/stack.sh up"
  for slot in $lost; do
    name=""
    for candidate in "${CONNECTORS[@]}"; do [[ $(template_value "$candidate" slot.name) == "$slot" ]] && name=$candidate; done
    if [[ -z $name ]]; then
      warn "replication slot $slot is lost and belongs to no TrackOps connector: left as it is (drop it: select pg_drop_replication_slot('$slot'))"
      continue
    fi
    db=$(template_value "$name" database.dbname)
    info "$slot is lost: $name (database $db) cannot resume"
    remove_connector "$name" --drop-slot
    pg_admin "$db" -Atc "select pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
    ok "created replication slot $slot again: every change from now on is kept for $name"
    if [[ " ${OUTBOX_CONNECTORS[*]} " == *" $name "* && ${EVENT_PUBLISHING_STRATEGY:-debezium} == debezium ]]; then
      reconcile_outbox "${db#trackops_}"
    fi
  done
  register_connectors
}
