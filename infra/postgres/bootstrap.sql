-- TrackOps databases, login roles and CONNECT rights. Idempotent: run it any number of times.
-- Run as a superuser on database postgres with the passwords as psql variables:
--   psql -v ON_ERROR_STOP=1 -v orders_pw=… -v inventory_pw=… -v payments_pw=… -v relay_pw=… -v cdc_pw=… -f bootstrap.sql
-- Used by infra/stack.sh up (local server) and by infra/postgres/compose-init.sh (docker compose).
-- Passwords are re-applied on every run, so changing *_DB_PASSWORD and re-running updates them.
-- Tables, grants on tables and publications belong to the services' migrations (infra/README.md).

SELECT format('CREATE ROLE %I LOGIN', r)
  FROM unnest(ARRAY['orders_svc','inventory_svc','payments_svc','relay_svc','trackops_cdc']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE orders_svc    WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD :'orders_pw';
ALTER ROLE inventory_svc WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD :'inventory_pw';
ALTER ROLE payments_svc  WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD :'payments_pw';
ALTER ROLE relay_svc     WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD :'relay_pw';
ALTER ROLE trackops_cdc  WITH LOGIN NOSUPERUSER REPLICATION   PASSWORD :'cdc_pw';

SELECT format('CREATE DATABASE %I OWNER %I', d, o)
  FROM (VALUES ('trackops_orders','orders_svc'), ('trackops_inventory','inventory_svc'),
               ('trackops_payments','payments_svc')) AS v(d, o)
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
ALTER DATABASE trackops_orders    OWNER TO orders_svc;
ALTER DATABASE trackops_inventory OWNER TO inventory_svc;
ALTER DATABASE trackops_payments  OWNER TO payments_svc;

-- Only the owner, the relay and CDC may connect to a service database.
REVOKE CONNECT ON DATABASE trackops_orders, trackops_inventory, trackops_payments FROM PUBLIC;
REVOKE CONNECT ON DATABASE trackops_orders    FROM inventory_svc, payments_svc;
REVOKE CONNECT ON DATABASE trackops_inventory FROM orders_svc, payments_svc;
REVOKE CONNECT ON DATABASE trackops_payments  FROM orders_svc, inventory_svc;
GRANT  CONNECT ON DATABASE trackops_orders, trackops_inventory, trackops_payments TO relay_svc, trackops_cdc;
