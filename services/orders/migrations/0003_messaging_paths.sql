-- Up Migration
-- The messaging path from the order service to each saga participant and back (DESIGN §8), watched by probes
-- that travel the way saga commands do (services/orders/src/probe-paths.ts). One row per participant; every
-- writer updates it under its row lock, so several copies of the order service agree on one probe per interval
-- and on one start and one end of each outage.
CREATE TABLE messaging_paths (
  participant         text PRIMARY KEY CHECK (participant IN ('inventory', 'payments')),
  -- The first probe ever sent; NULL: the path was never probed and holds no deadline.
  probing_since       timestamptz,
  -- The newest probe sent (by any copy): the next one waits a probe interval after it.
  probe_sent_at       timestamptz,
  -- sentAt of the newest probe answered, and when that answer was recorded.
  answered_sent_at    timestamptz,
  answered_at         timestamptz,
  -- Set while the path counts as down: the send time of the last probe known to have made the round trip.
  -- Cleared, in the transaction that extends the deadlines the outage held, when answers come back.
  down_since          timestamptz,
  last_outage_seconds double precision,
  last_recovered_at   timestamptz
);
INSERT INTO messaging_paths (participant) VALUES ('inventory'), ('payments');

-- Down Migration
DROP TABLE IF EXISTS messaging_paths;
