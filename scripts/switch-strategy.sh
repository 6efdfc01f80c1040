#!/usr/bin/env bash
# Switches how outbox rows reach Kafka without losing or reordering events:
#   bash scripts/switch-strategy.sh outbox     Debezium → the polling relay
#   bash scripts/switch-strategy.sh debezium   the polling relay → Debezium
# The services that write outbox rows stop first; the current publisher drains what they wrote; the other
# publisher takes over from exactly that point; .env records the choice; the services start again.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source infra/lib/common.sh
source infra/lib/postgres.sh
source infra/lib/kafka.sh
source infra/lib/connectors.sh

to=${1:-}
[[ $to == outbox || $to == debezium ]] || die "usage: bash scripts/switch-strategy.sh outbox|debezium" "choose the publisher to switch to"
current=$(sed -n 's/^EVENT_PUBLISHING_STRATEGY=//p' .env 2>/dev/null | tail -1)
if [[ ${current:-debezium} == "$to" ]]; then
  ok "the publishing strategy is already $to (.env); nothing to switch"
  exit 0
fi
pg_connect_admin || die "PostgreSQL is not answering" "start the stack: npm run up"
DBS=(trackops_orders trackops_inventory trackops_payments)
WRITERS=(orders inventory payments)

step "stopping the services that write outbox rows"
bash scripts/services.sh stop "${WRITERS[@]}"

unpublished() { local total=0 n db; for db in "${DBS[@]}"; do n=$(pg_admin "$db" -Atc "select count(*) from outbox where published_at is null"); total=$((total + n)); done; echo "$total"; }
# Every outbox slot has confirmed (streamed and flushed to Kafka) the WAL up to the given position.
slots_caught_up() {
  [[ $(pg_value "select count(*) from pg_replication_slots where slot_name like '%\\_outbox' and confirmed_flush_lsn < '$1'::pg_lsn") == 0 ]]
}

if [[ $to == outbox ]]; then
  step "waiting for Debezium to stream everything already committed"
  target=$(pg_value "select pg_current_wal_lsn()")
  wait_for "the outbox slots to confirm WAL position $target (a heartbeat comes every 10 s)" 60 slots_caught_up "$target"
  for db in "${DBS[@]}"; do
    n=$(pg_admin "$db" -Atc "with m as (update outbox set published_at = now() where published_at is null returning 1) select count(*) from m")
    info "$db: $n rows Debezium published marked as published"
  done
  EVENT_PUBLISHING_STRATEGY=outbox register_connectors
else
  step "waiting for the relay to publish every outbox row"
  waited=0
  until [[ $(unpublished) == 0 ]]; do
    sleep 1; waited=$((waited + 1))
    ((waited % 5)) || info "still unpublished: $(unpublished) rows … ${waited}s"
    ((waited < 120)) || die "the relay did not drain the outbox in 120 s" "check bash scripts/services.sh start relay and .stack/logs/relay.log"
  done
  ok "outbox drained"
  EVENT_PUBLISHING_STRATEGY=debezium register_connectors
fi

if [[ -f .env ]] && grep -q '^EVENT_PUBLISHING_STRATEGY=' .env; then
  sed -i "s/^EVENT_PUBLISHING_STRATEGY=.*/EVENT_PUBLISHING_STRATEGY=$to/" .env
else
  echo "EVENT_PUBLISHING_STRATEGY=$to" >>.env
fi
ok ".env: EVENT_PUBLISHING_STRATEGY=$to"

step "restarting the services"
EVENT_PUBLISHING_STRATEGY=$to bash scripts/services.sh restart relay
EVENT_PUBLISHING_STRATEGY=$to bash scripts/services.sh start "${WRITERS[@]}"
ok "publishing strategy is now $to"
