-- Up Migration
-- A cancelled order says why and who in its own representation (GET /api/orders/{id}: cancellationReason,
-- cancelledBy). Both are written by the status change to CANCELLED, in the order's row, so every read of the order
-- (the cache included) and its change stream carry them. NULL for orders that are not cancelled.
ALTER TABLE orders
  ADD COLUMN cancellation_reason text,
  ADD COLUMN cancelled_by        text;

-- Orders cancelled before: from their timeline's last CANCELLED entry, with the rule of cancelledByOf
-- (services/orders/src/change-status.ts). The version is not bumped: nothing about the order changed, and cached
-- entries written before this migration lack the fields, so the cache reloads them.
UPDATE orders o
SET cancellation_reason = coalesce(h.reason, 'cancelled'),
    cancelled_by = coalesce(h.actor, CASE WHEN h.cause IN ('saga', 'timeout') THEN 'saga' WHEN h.cause = 'system' THEN 'system' ELSE h.cause END)
FROM (
  SELECT DISTINCT ON (order_id) order_id, reason, actor, cause
  FROM order_history WHERE to_status = 'CANCELLED' ORDER BY order_id, id DESC
) h
WHERE o.id = h.order_id AND o.status = 'CANCELLED';

-- Down Migration
ALTER TABLE orders DROP COLUMN IF EXISTS cancelled_by, DROP COLUMN IF EXISTS cancellation_reason;
