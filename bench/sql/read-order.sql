-- PostgreSQL's ceiling for an uncached GET /api/orders/{id}: the two statements of getOrder
-- (services/orders/src/order-store.ts), outside a transaction, as the service runs them. The orders are the
-- bench's own (ids be4c<nonce>-0000-4000-8000-<i in hex>, i = 1 … count), written and deleted by the bench.
\set i random(1, :count)
select * from "orders" where "id" = ('be4c' || :nonce || '-0000-4000-8000-' || lpad(to_hex(:i::bigint), 12, '0'))::uuid;
select * from "order_items" where "order_id" in (('be4c' || :nonce || '-0000-4000-8000-' || lpad(to_hex(:i::bigint), 12, '0'))::uuid) order by "order_id", "line_no";
