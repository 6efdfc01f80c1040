-- Up Migration
-- The order service's own tables. outbox / processed_events / dead_letters come from packages/messaging.

-- Money is integer cents. `version` starts at 1 and is bumped by every update, which runs under
-- SELECT … FOR UPDATE or `WHERE version = $expected`: an update can never overwrite one it did not see.
CREATE TABLE orders (
  id                    uuid PRIMARY KEY,
  customer_id           uuid NOT NULL,
  status                text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
  total_cents           bigint NOT NULL CHECK (total_cents >= 0),
  currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  street_address        text NOT NULL,
  city                  text NOT NULL,
  state                 text,
  postal_code           text NOT NULL,
  country               text NOT NULL,
  phone_number          text,
  delivery_instructions text,
  payment_token         text,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  version               bigint NOT NULL DEFAULT 1
);
CREATE INDEX orders_created ON orders (created_at DESC, id);
CREATE INDEX orders_updated ON orders (updated_at DESC, id);
CREATE INDEX orders_status_created ON orders (status, created_at DESC, id);
CREATE INDEX orders_customer_created ON orders (customer_id, created_at DESC, id);

-- Lines are priced from the catalog replica when the order is placed; one line per product.
CREATE TABLE order_items (
  id               uuid PRIMARY KEY,
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          integer NOT NULL,
  product_id       text NOT NULL,
  product_name     text NOT NULL,
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  total_cents      bigint NOT NULL CHECK (total_cents = unit_price_cents * quantity),
  UNIQUE (order_id, product_id),
  UNIQUE (order_id, line_no)
);

-- The timeline: one row per status change (and one for the creation, from_status NULL).
CREATE TABLE order_history (
  id             bigserial PRIMARY KEY,
  order_id       uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  from_status    text,
  to_status      text NOT NULL,
  cause          text NOT NULL CHECK (cause IN ('customer', 'operator', 'saga', 'timeout', 'system')),
  reason         text,
  actor          text,
  correlation_id text NOT NULL,
  order_version  bigint NOT NULL,
  occurred_at    timestamptz NOT NULL
);
CREATE INDEX order_history_order ON order_history (order_id, id);

-- Idempotency-Key of POST /api/orders. The primary key makes concurrent identical requests wait for the first
-- one's transaction; the FK is deferred because the key row is written before the order it points at.
CREATE TABLE idempotency_keys (
  idempotency_key text PRIMARY KEY,
  customer_id     uuid NOT NULL,
  request_hash    text NOT NULL,
  order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  created_at      timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Replica of the inventory service's product catalog, fed by its raw change stream. `version` is the
-- inventory row's version: an older change never overwrites a newer one.
CREATE TABLE catalog_products (
  product_id        text PRIMARY KEY,
  inventory_item_id uuid,
  product_name      text NOT NULL,
  unit_price_cents  bigint NOT NULL CHECK (unit_price_cents >= 0),
  is_active         boolean NOT NULL,
  is_discontinued   boolean NOT NULL,
  version           bigint NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX catalog_products_item ON catalog_products (inventory_item_id);

-- Raw row changes of orders and their lines, for cache invalidation and live updates (infra/connectors).
CREATE PUBLICATION trackops_orders_cdc_pub FOR TABLE orders, order_items;

DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trackops_cdc') THEN
    GRANT SELECT ON orders, order_items TO trackops_cdc;
  END IF;
END $$;

-- Down Migration
DROP PUBLICATION IF EXISTS trackops_orders_cdc_pub;
DROP TABLE IF EXISTS catalog_products, idempotency_keys, order_history, order_items, orders;
