#!/usr/bin/env bash
# docker compose only: mounted into /docker-entrypoint-initdb.d of the postgres container, runs once on
# an empty data volume. Same databases and roles as infra/stack.sh up (infra/postgres/bootstrap.sql).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v orders_pw="${ORDERS_DB_PASSWORD:-orders_dev_pw}" \
  -v inventory_pw="${INVENTORY_DB_PASSWORD:-inventory_dev_pw}" \
  -v payments_pw="${PAYMENTS_DB_PASSWORD:-payments_dev_pw}" \
  -v relay_pw="${RELAY_DB_PASSWORD:-relay_dev_pw}" \
  -v cdc_pw="${CDC_DB_PASSWORD:-cdc_dev_pw}" \
  -f /trackops/bootstrap.sql
