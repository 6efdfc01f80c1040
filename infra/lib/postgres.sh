# PostgreSQL: logical WAL, databases, roles (sourced by infra/stack.sh).
#
# Decision (see infra/README.md): on a developer machine we reconfigure the LOCAL Debian cluster
# (wal_level=logical needs a restart). With TRACKOPS_PG_EXTERNAL=1 we never change the server:
# we list what it lacks and stop.

DATABASES=(trackops_orders trackops_inventory trackops_payments)
declare -A DB_OWNER=([trackops_orders]=orders_svc [trackops_inventory]=inventory_svc [trackops_payments]=payments_svc)
SERVICE_ROLES=(orders_svc inventory_svc payments_svc)
ALL_ROLES=(orders_svc inventory_svc payments_svc relay_svc trackops_cdc)
MIN_REPLICATION_SLOTS=10
MIN_WAL_SENDERS=10
# The most WAL a replication slot may keep (a stopped connector otherwise keeps every byte until the disk fills).
SLOT_WAL_KEEP=${TRACKOPS_PG_SLOT_WAL_KEEP:-4GB}

PSQL_MODE=""   # "tcp" (psql -h host -U admin) or "socket" (runuser -u postgres, peer auth)

# "15 main online" for the Debian cluster serving PG_PORT on this machine, or nothing.
pg_local_cluster() {
  case $PG_HOST in 127.0.0.1 | localhost | ::1) ;; *) return 1 ;; esac
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }' | grep .
}

is_root() { [[ $(id -u) == 0 ]]; }

# Admin psql on database $1 (default postgres); remaining args go to psql.
pg_admin() {
  local db=${1:-postgres}
  shift || true
  if [[ $PSQL_MODE == socket ]]; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "$db" "$@"
  else
    psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ADMIN_USER" -d "$db" "$@"
  fi
}

pg_value() { pg_admin postgres -Atc "$1"; }

pg_answers() { pg_admin postgres -Atc 'select 1' >/dev/null 2>&1; }

# Pick a way to talk to the server as an admin; returns 1 when the server does not answer at all.
pg_connect_admin() {
  PSQL_MODE=tcp
  pg_answers && return 0
  if pg_local_cluster >/dev/null && is_root && command -v runuser >/dev/null; then
    PSQL_MODE=socket
    pg_answers && return 0
  fi
  PSQL_MODE=tcp
  return 1
}

ensure_postgres() {
  step "PostgreSQL at $PG_HOST:$PG_PORT"
  require_cmd psql "install the PostgreSQL client (Debian: apt-get install postgresql-client-15)"
  if [[ ${TRACKOPS_PG_EXTERNAL:-0} == 1 ]]; then
    check_external_postgres
    return
  fi

  local cluster ver name status
  cluster=$(pg_local_cluster || true)
  read -r ver name status <<<"$cluster"

  if ! pg_connect_admin; then
    if [[ -n $cluster && $status == down ]] && is_root; then
      info "local cluster $ver/$name is down: starting it (pg_ctlcluster $ver $name start)"
      pg_ctlcluster "$ver" "$name" start || die "pg_ctlcluster $ver $name start failed" "read /var/log/postgresql/postgresql-$ver-$name.log"
      wait_for "PostgreSQL on $PG_HOST:$PG_PORT" 60 pg_connect_admin
    elif port_open "$PG_HOST" "$PG_PORT"; then
      die "PostgreSQL on $PG_HOST:$PG_PORT answers, but not to the admin user '$PG_ADMIN_USER'" \
          "set TRACKOPS_PG_ADMIN_USER / PGPASSWORD for a superuser, or run as root so the script can use the postgres OS user" \
          "or, for a server you manage yourself, set TRACKOPS_PG_EXTERNAL=1 and create what it lists"
    else
      die "PostgreSQL is not answering on $PG_HOST:$PG_PORT" \
          "start it (Debian: pg_ctlcluster 15 main start), or point TRACKOPS_PG_HOST/TRACKOPS_PG_PORT at your server"
    fi
  fi

  local wal slots senders is_super
  wal=$(pg_value 'show wal_level')
  slots=$(pg_value 'show max_replication_slots')
  senders=$(pg_value 'show max_wal_senders')
  is_super=$(pg_value "select rolsuper from pg_roles where rolname = current_user")
  [[ $is_super == t ]] || die "the admin user '$PG_ADMIN_USER' is not a superuser on $PG_HOST:$PG_PORT" \
    "use a superuser (TRACKOPS_PG_ADMIN_USER), or TRACKOPS_PG_EXTERNAL=1 to only check the server"

  if [[ $wal != logical ]] || ((slots < MIN_REPLICATION_SLOTS || senders < MIN_WAL_SENDERS)); then
    if [[ -z $cluster ]] || ! is_root; then
      die "PostgreSQL on $PG_HOST:$PG_PORT has wal_level=$wal, max_replication_slots=$slots, max_wal_senders=$senders; Debezium needs wal_level=logical and at least $MIN_REPLICATION_SLOTS slots/senders" \
          "this script only reconfigures a local Debian cluster when run as root (it is ${cluster:+a local cluster but we are not root}${cluster:-not one listed by pg_lsclusters})" \
          "as a superuser run: ALTER SYSTEM SET wal_level = logical; ALTER SYSTEM SET max_replication_slots = $MIN_REPLICATION_SLOTS; ALTER SYSTEM SET max_wal_senders = $MIN_WAL_SENDERS; then restart PostgreSQL"
    fi
    local datadir
    datadir=$(pg_value 'show data_directory')
    loud "PostgreSQL $ver/$name on $PG_HOST:$PG_PORT runs with wal_level=$wal; Debezium reads the WAL and needs wal_level=logical."
    loud "This script now CHANGES THE LOCAL SERVER (written to $datadir/postgresql.auto.conf):"
    [[ $wal != logical ]] && loud "    ALTER SYSTEM SET wal_level = logical"
    ((slots < MIN_REPLICATION_SLOTS)) && loud "    ALTER SYSTEM SET max_replication_slots = $MIN_REPLICATION_SLOTS   (was $slots)"
    ((senders < MIN_WAL_SENDERS)) && loud "    ALTER SYSTEM SET max_wal_senders = $MIN_WAL_SENDERS   (was $senders)"
    loud "    pg_ctlcluster $ver $name restart   (open connections to every database are dropped)"
    loud "Undo with ALTER SYSTEM RESET wal_level; and a restart. Use TRACKOPS_PG_EXTERNAL=1 for a server that must not be touched."
    pg_value "ALTER SYSTEM SET wal_level = logical" >/dev/null
    ((slots < MIN_REPLICATION_SLOTS)) && pg_value "ALTER SYSTEM SET max_replication_slots = $MIN_REPLICATION_SLOTS" >/dev/null
    ((senders < MIN_WAL_SENDERS)) && pg_value "ALTER SYSTEM SET max_wal_senders = $MIN_WAL_SENDERS" >/dev/null
    pg_ctlcluster "$ver" "$name" restart ||
      die "pg_ctlcluster $ver $name restart failed" "read /var/log/postgresql/postgresql-$ver-$name.log"
    wait_for "PostgreSQL on $PG_HOST:$PG_PORT" 60 pg_connect_admin
    wal=$(pg_value 'show wal_level')
    [[ $wal == logical ]] || die "PostgreSQL restarted but wal_level is still $wal" \
      "a setting in postgresql.conf may be overridden elsewhere: grep -r wal_level /etc/postgresql/$ver/$name/"
    ok "wal_level=logical after restart"
  fi

  ensure_slot_wal_bound
  ensure_autovacuum
  pg_bootstrap
  ok "PostgreSQL $(pg_value 'show server_version' | cut -d' ' -f1): wal_level=logical, databases ${DATABASES[*]}, roles ${ALL_ROLES[*]}"
}

# max_slot_wal_keep_size unlimited (PostgreSQL's default) lets one stopped Debezium connector fill the disk. Bound it
# when nobody has (reloadable, no restart); a value someone chose is left alone.
ensure_slot_wal_bound() {
  local keep
  keep=$(pg_value 'show max_slot_wal_keep_size')
  [[ $keep == -1 ]] || return 0
  loud "max_slot_wal_keep_size is unlimited: a stopped connector would keep WAL until the disk fills. Setting it to $SLOT_WAL_KEEP"
  loud "    ALTER SYSTEM SET max_slot_wal_keep_size = '$SLOT_WAL_KEEP'; SELECT pg_reload_conf();   (TRACKOPS_PG_SLOT_WAL_KEEP to choose; undo: ALTER SYSTEM RESET max_slot_wal_keep_size)"
  pg_value "ALTER SYSTEM SET max_slot_wal_keep_size = '$SLOT_WAL_KEEP'" >/dev/null
  pg_value "SELECT pg_reload_conf()" >/dev/null
}

# The outbox, the inbox, sagas and orders are updated or deleted all day: without autovacuum their dead rows are never
# reused and the tables grow for ever (measured by the soak with autovacuum off: the orders outbox at 191 MB for 16,500
# live rows after an hour at 10 orders/s, growing 166 MB an hour). Turned on when off (reloadable, no restart).
ensure_autovacuum() {
  [[ $(pg_value 'show autovacuum') == off ]] || return 0
  loud "autovacuum is off ($(pg_value "select coalesce(sourcefile, source) from pg_settings where name = 'autovacuum'")): the outbox and inbox tables would grow without bound. Turning it on"
  loud "    ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();   (undo: ALTER SYSTEM RESET autovacuum)"
  pg_value "ALTER SYSTEM SET autovacuum = on" >/dev/null
  pg_value "SELECT pg_reload_conf()" >/dev/null
}

# Databases, login roles and CONNECT rights; safe to run any number of times.
# Passwords are re-applied every time, so changing *_DB_PASSWORD and re-running updates them.
pg_bootstrap() {
  pg_admin postgres \
    -v orders_pw="${ORDERS_DB_PASSWORD:-orders_dev_pw}" \
    -v inventory_pw="${INVENTORY_DB_PASSWORD:-inventory_dev_pw}" \
    -v payments_pw="${PAYMENTS_DB_PASSWORD:-payments_dev_pw}" \
    -v relay_pw="${RELAY_DB_PASSWORD:-relay_dev_pw}" \
    -v cdc_pw="${CDC_DB_PASSWORD:-cdc_dev_pw}" <"$INFRA/postgres/bootstrap.sql" >/dev/null ||
    die "creating the TrackOps databases and roles failed (see the error above)" "fix the cause and re-run: npm run stack:up"
}

# TRACKOPS_PG_EXTERNAL=1: check only, never change anything.
check_external_postgres() {
  info "TRACKOPS_PG_EXTERNAL=1: checking $PG_HOST:$PG_PORT without changing it"
  PSQL_MODE=tcp
  pg_answers || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT as '$PG_ADMIN_USER'" \
    "check TRACKOPS_PG_HOST, TRACKOPS_PG_PORT, TRACKOPS_PG_ADMIN_USER and PGPASSWORD"
  local missing=() fixes=() wal slots senders r d
  wal=$(pg_value 'show wal_level')
  slots=$(pg_value 'show max_replication_slots')
  senders=$(pg_value 'show max_wal_senders')
  if [[ $wal != logical ]]; then
    missing+=("wal_level is $wal, must be logical")
    fixes+=("ALTER SYSTEM SET wal_level = logical;  -- then restart the server")
  fi
  if ((slots < MIN_REPLICATION_SLOTS)); then
    missing+=("max_replication_slots is $slots, need >= $MIN_REPLICATION_SLOTS (5 connectors)")
    fixes+=("ALTER SYSTEM SET max_replication_slots = $MIN_REPLICATION_SLOTS;  -- restart")
  fi
  if ((senders < MIN_WAL_SENDERS)); then
    missing+=("max_wal_senders is $senders, need >= $MIN_WAL_SENDERS")
    fixes+=("ALTER SYSTEM SET max_wal_senders = $MIN_WAL_SENDERS;  -- restart")
  fi
  for r in "${ALL_ROLES[@]}"; do
    if [[ -z $(pg_value "select 1 from pg_roles where rolname = '$r'") ]]; then
      missing+=("login role $r")
      fixes+=("CREATE ROLE $r LOGIN $([[ $r == trackops_cdc ]] && echo 'REPLICATION ')PASSWORD '…';")
    elif [[ $r == trackops_cdc && $(pg_value "select rolreplication from pg_roles where rolname = '$r'") != t ]]; then
      missing+=("role trackops_cdc lacks the REPLICATION attribute")
      fixes+=("ALTER ROLE trackops_cdc REPLICATION;")
    fi
  done
  for d in "${DATABASES[@]}"; do
    if [[ -z $(pg_value "select 1 from pg_database where datname = '$d'") ]]; then
      missing+=("database $d")
      fixes+=("CREATE DATABASE $d OWNER ${DB_OWNER[$d]}; REVOKE CONNECT ON DATABASE $d FROM PUBLIC; GRANT CONNECT ON DATABASE $d TO relay_svc, trackops_cdc;")
    fi
  done
  if ((${#missing[@]})); then
    printf '%s✗ the external PostgreSQL server lacks:%s\n' "$R$B" "$N" >&2
    printf '    - %s\n' "${missing[@]}" >&2
    printf '  → as a superuser on that server, run:\n' >&2
    printf '      %s\n' "${fixes[@]}" >&2
    printf '  → then re-run: npm run stack:up (TRACKOPS_PG_EXTERNAL=1 never changes your server)\n' >&2
    exit 1
  fi
  [[ $(pg_value 'show max_slot_wal_keep_size') == -1 ]] &&
    warn "max_slot_wal_keep_size is unlimited on this server: a stopped connector keeps WAL until the disk fills; as a superuser: ALTER SYSTEM SET max_slot_wal_keep_size = '$SLOT_WAL_KEEP'; SELECT pg_reload_conf();"
  [[ $(pg_value 'show autovacuum') == off ]] &&
    warn "autovacuum is off on this server: the outbox and inbox tables grow without bound; as a superuser: ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();"
  ok "external PostgreSQL has wal_level=logical, the roles and the databases (nothing changed)"
}

# Replication slots the connectors create (slot.name in infra/connectors/*.json); dropped by `stack.sh reset`.
drop_slots() {
  pg_connect_admin || { warn "PostgreSQL is not answering: replication slots not dropped"; return 0; }
  local f s active
  for f in "$INFRA"/connectors/*.json; do
    s=$(sed -n 's/^ *"slot.name": *"\(.*\)",\{0,1\} *$/\1/p' "$f")
    active=$(pg_value "select active from pg_replication_slots where slot_name = '$s'")
    [[ -z $active ]] && continue
    if [[ $active == t ]]; then
      warn "slot $s is in use by a running connector: left in place (stop Kafka Connect first)"
      continue
    fi
    pg_value "select pg_drop_replication_slot('$s')" >/dev/null && ok "dropped replication slot $s"
  done
}
