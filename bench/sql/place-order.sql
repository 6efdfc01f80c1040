-- PostgreSQL's ceiling for POST /api/orders: the statements of services/orders/src/place-order.ts (one order with
-- one line, no Idempotency-Key), in the same order and the same two flights: the catalog read, then one pipelined
-- transaction (the service sends BEGIN, its inserts and COMMIT together; pgbench's \startpipeline does the same). `npm run bench` checks this list against
-- the statements the service's own placeOrder issues (see bench/lib/fidelity.ts) and reports any difference.
--
-- Run it only in the scratch copy of the schema the bench creates (trackops_orders_bench): in trackops_orders
-- the outbox rows would be published by Debezium and reach inventory as real RESERVE_INVENTORY commands.
--
-- Variables (-D): customer = the bench's marker customer id, products = how many BENCH-LOAD-nn products exist.
-- Ids are uuids built from one random 48-bit number per transaction; the service makes them with randomUUID().
\set n random(1, 281474976710655)
\set p random(1, :products)
-- findProducts (flight 1)
select * from "catalog_products" where "product_id" in ('BENCH-LOAD-' || lpad(:p::text, 2, '0'));
-- the creating transaction (flight 2)
\startpipeline
BEGIN;
-- insertOrder: the order row, then its lines
insert into "orders" ("id", "customer_id", "status", "total_cents", "currency", "street_address", "city", "state", "postal_code", "country", "phone_number", "delivery_instructions", "payment_token", "created_at", "updated_at", "version")
  values (('b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, :customer, 'PENDING', 1000, 'USD', '12 Test Street', 'Springfield', 'IL', '62701', 'US', '+1 555 0100', null, null, now(), now(), 1);
insert into "order_items" ("id", "order_id", "line_no", "product_id", "product_name", "quantity", "unit_price_cents", "total_cents")
  values (('b0000000-0000-4000-8001-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, ('b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, 1, 'BENCH-LOAD-' || lpad(:p::text, 2, '0'), 'Bench load product', 1, 1000, 1000);
-- insertHistory
insert into "order_history" ("order_id", "from_status", "to_status", "cause", "reason", "actor", "correlation_id", "order_version", "occurred_at")
  values (('b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, null, 'PENDING', 'customer', null, :customer, 'c0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), 1, now());
-- enqueue(ORDER_CREATED): the envelope is ~520 bytes of JSON, as the service writes it
INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
  VALUES (('b0000000-0000-4000-8002-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, 'orders.events', 'order', 'b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), 'ORDER_CREATED',
    format('{"id":"b0000000-0000-4000-8002-%1$s","type":"ORDER_CREATED","version":1,"occurredAt":"%2$s","aggregateType":"order","aggregateId":"b0000000-0000-4000-8000-%1$s","correlationId":"c0000000-0000-4000-8000-%1$s","data":{"orderId":"b0000000-0000-4000-8000-%1$s","customerId":"%3$s","status":"PENDING","totalCents":1000,"currency":"USD","items":[{"productId":"BENCH-LOAD-01","productName":"Bench load product","quantity":1,"unitPriceCents":1000}],"version":1}}', lpad(to_hex(:n::bigint), 12, '0'), now(), :customer::text),
    'c0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), '00-' || lpad(to_hex(:n::bigint), 32, '0') || '-' || lpad(to_hex(:n::bigint), 16, '0') || '-00');
-- startSaga: insertSaga, its first step, its first command
INSERT INTO saga_instances (id, order_id, customer_id, status, current_step, step_deadline, compensation_attempts,
    reservation_status, payment_status, payment_id, total_cents, currency, payment_token, items, cancel_reason, cause,
    cancelled_by, correlation_id, step_timeout_seconds, created_at, updated_at, completed_at, version)
  VALUES (('b0000000-0000-4000-8003-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, ('b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, :customer, 'RUNNING', 'RESERVE_INVENTORY', now() + interval '30 seconds', 0,
    'REQUESTED', 'NONE', null, 1000, 'USD', 'tok_visa', '[{"productId":"BENCH-LOAD-01","quantity":1}]'::jsonb, null, null,
    null, 'c0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), 30, now(), now(), null, 1);
INSERT INTO saga_steps (saga_id, name, kind, status, attempts, started_at, completed_at, error)
  VALUES (('b0000000-0000-4000-8003-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, 'RESERVE_INVENTORY', 'action', 'RUNNING', 1, now(), null, null)
  ON CONFLICT (saga_id, name) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts,
    started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at, error = EXCLUDED.error;
-- enqueue(RESERVE_INVENTORY): ~410 bytes
INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
  VALUES (('b0000000-0000-4000-8004-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid, 'inventory.commands', 'order', 'b0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), 'RESERVE_INVENTORY',
    format('{"id":"b0000000-0000-4000-8004-%1$s","type":"RESERVE_INVENTORY","version":1,"occurredAt":"%2$s","aggregateType":"order","aggregateId":"b0000000-0000-4000-8000-%1$s","correlationId":"c0000000-0000-4000-8000-%1$s","data":{"orderId":"b0000000-0000-4000-8000-%1$s","sagaId":"b0000000-0000-4000-8003-%1$s","items":[{"productId":"BENCH-LOAD-01","quantity":1}]}}', lpad(to_hex(:n::bigint), 12, '0'), now()),
    'c0000000-0000-4000-8000-' || lpad(to_hex(:n::bigint), 12, '0'), '00-' || lpad(to_hex(:n::bigint), 32, '0') || '-' || lpad(to_hex(:n::bigint), 16, '0') || '-00');
COMMIT;
\endpipeline
