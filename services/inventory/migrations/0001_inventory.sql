-- Up Migration
-- Stock and reservations (DESIGN §3). Stock columns are kept consistent by CHECK constraints, so a bug in a
-- use case aborts its transaction instead of corrupting stock:
--   on_hand_quantity = available_quantity + reserved_quantity   (units held in the warehouse, not yet sold)
--   available, reserved, sold, on hand                    >= 0   (never negative, never oversold)
-- on_hand changes only through adjustments (received / written off / corrected), commits (reserved stock leaves
-- as sold) and restocks (a committed order is cancelled). Every change of on_hand is in inventory_adjustments or
-- in a COMMITTED/RELEASED reservation, so for each product:
--   sum(inventory_adjustments.quantity of the item's id) = available + reserved + sold
-- The first 16 columns of inventory_items are a contract: the order service's catalog replica reads them from
-- the Debezium change stream (trackops_inventory.public.inventory_items).
CREATE TABLE inventory_items (
  id                 uuid PRIMARY KEY,
  product_id         text NOT NULL UNIQUE,
  product_name       text NOT NULL,
  description        text,
  available_quantity integer NOT NULL CHECK (available_quantity >= 0),
  reserved_quantity  integer NOT NULL DEFAULT 0 CHECK (reserved_quantity >= 0),
  unit_price         numeric(10, 2) NOT NULL CHECK (unit_price > 0),
  category           text,
  min_stock_level    integer CHECK (min_stock_level >= 0),
  max_stock_level    integer CHECK (max_stock_level >= 0),
  reorder_quantity   integer CHECK (reorder_quantity >= 0),
  is_active          boolean NOT NULL DEFAULT true,
  is_discontinued    boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  version            bigint NOT NULL DEFAULT 0,
  sold_quantity      integer NOT NULL DEFAULT 0 CHECK (sold_quantity >= 0),
  on_hand_quantity   integer NOT NULL CHECK (on_hand_quantity >= 0),
  CONSTRAINT inventory_items_on_hand CHECK (on_hand_quantity = available_quantity + reserved_quantity),
  CONSTRAINT inventory_items_min_max CHECK (min_stock_level IS NULL OR max_stock_level IS NULL OR min_stock_level <= max_stock_level),
  CONSTRAINT inventory_items_discontinued_inactive CHECK (NOT (is_discontinued AND is_active))
);
CREATE INDEX inventory_items_category ON inventory_items (category, product_name);
CREATE INDEX inventory_items_created ON inventory_items (created_at);

-- One row per order that asked for stock: the outcome (replayed to a repeated request instead of reserving
-- again), and the lock that serialises every operation on the order's reservations (reserve, commit,
-- release, expire). Lock order everywhere: order_reservations row → inventory_items rows by product_id.
CREATE TABLE order_reservations (
  order_id     uuid PRIMARY KEY,
  saga_id      uuid,
  source       text NOT NULL CHECK (source IN ('saga', 'operator')),
  requested_by text,
  correlation_id text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('RESERVED', 'FAILED')),
  failed_items jsonb NOT NULL DEFAULT '[]',
  expires_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per product of a reserved order. RESERVED → COMMITTED | RELEASED | EXPIRED; COMMITTED → RELEASED when
-- a confirmed order is cancelled (its stock is restocked; committed_at stays as history). product_name and
-- unit_price_cents are what the order was reserved at. No foreign key to inventory_items: history outlives a
-- deleted product (deleting one with RESERVED rows is refused by the application).
CREATE TABLE inventory_reservations (
  id               uuid PRIMARY KEY,
  order_id         uuid NOT NULL REFERENCES order_reservations (order_id),
  product_id       text NOT NULL,
  product_name     text NOT NULL,
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  quantity         integer NOT NULL CHECK (quantity > 0),
  status           text NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED')),
  reserved_at      timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  released_at      timestamptz,
  committed_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  version          bigint NOT NULL DEFAULT 0,
  UNIQUE (order_id, product_id)
);
CREATE INDEX inventory_reservations_due ON inventory_reservations (expires_at) WHERE status = 'RESERVED';
CREATE INDEX inventory_reservations_product ON inventory_reservations (product_id, status);
CREATE INDEX inventory_reservations_status ON inventory_reservations (status, created_at);
CREATE INDEX inventory_reservations_created ON inventory_reservations (created_at);

-- The audit trail of on-hand changes. INITIAL is the stock an item was created with. Kept when the item is
-- deleted; item_id tells a re-created product id's history apart.
CREATE TABLE inventory_adjustments (
  id               uuid PRIMARY KEY,
  item_id          uuid NOT NULL,
  product_id       text NOT NULL,
  quantity         integer NOT NULL CHECK (quantity <> 0 OR reason = 'INITIAL'),
  reason           text NOT NULL CHECK (reason IN ('INITIAL', 'RECEIVED', 'WRITE_OFF', 'CORRECTION')),
  note             text,
  actor            text NOT NULL,
  available_before integer NOT NULL,
  available_after  integer NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_adjustments_product ON inventory_adjustments (product_id, created_at);

-- Raw change stream of the items for the catalog replica and caches (connector trackops-inventory-cdc).
CREATE PUBLICATION trackops_inventory_cdc_pub FOR TABLE inventory_items;

DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trackops_cdc') THEN
    GRANT SELECT ON inventory_items TO trackops_cdc;
  END IF;
END $$;

-- Down Migration
DROP PUBLICATION IF EXISTS trackops_inventory_cdc_pub;
DROP TABLE IF EXISTS inventory_adjustments, inventory_reservations, order_reservations, inventory_items;
