-- Up Migration
-- Tables every service database carries for messaging (DESIGN §2). Identical in each database.

-- The outbox: written only by enqueue() inside the business transaction. The Debezium connector routes each
-- inserted row by `topic`; the polling relay publishes rows with published_at NULL. `bucket` spreads
-- aggregates over 16 advisory-lock buckets so several relays never publish one aggregate's rows out of order.
CREATE TABLE outbox (
  seq            bigserial PRIMARY KEY,
  id             uuid NOT NULL UNIQUE,
  topic          text NOT NULL,
  aggregatetype  text NOT NULL,
  aggregateid    text NOT NULL,
  type           text NOT NULL,
  payload        text NOT NULL,
  correlation_id text NOT NULL,
  traceparent    text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  bucket         smallint NOT NULL GENERATED ALWAYS AS ((hashtext(aggregateid) & 15)::smallint) STORED
);
CREATE INDEX outbox_unpublished ON outbox (bucket, seq) WHERE published_at IS NULL;
CREATE INDEX outbox_aggregate ON outbox (aggregateid, seq);
CREATE INDEX outbox_created ON outbox (created_at);

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The inbox: one row per (message, consumer group), inserted in the same transaction as the handler's effects.
CREATE TABLE processed_events (
  message_id     uuid NOT NULL,
  consumer_group text NOT NULL,
  message_type   text NOT NULL,
  topic          text NOT NULL,
  partition      integer NOT NULL,
  "offset"       bigint NOT NULL,
  processed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, consumer_group)
);
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- Dead letters: a record that failed its schema or exhausted its retries. status DEAD blocks its key
-- (later records are parked) until an operator replays (REPLAY_REQUESTED → REPLAYED) or discards it.
CREATE TABLE dead_letters (
  id             uuid PRIMARY KEY,
  consumer_group text NOT NULL,
  topic          text NOT NULL,
  partition      integer NOT NULL,
  "offset"       bigint NOT NULL,
  record_key     text NOT NULL,
  record_value   text NOT NULL,
  headers        jsonb NOT NULL,
  message_id     text,
  message_type   text,
  error          text NOT NULL,
  attempts       integer NOT NULL,
  status         text NOT NULL DEFAULT 'DEAD' CHECK (status IN ('DEAD', 'REPLAY_REQUESTED', 'REPLAYED', 'DISCARDED')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  resolved_by    text,
  UNIQUE (consumer_group, topic, partition, "offset")
);
CREATE INDEX dead_letters_blocking ON dead_letters (consumer_group, topic, record_key) WHERE status IN ('DEAD', 'REPLAY_REQUESTED');
CREATE INDEX dead_letters_status ON dead_letters (status, created_at);

-- Records held back because an earlier record of the same key is dead-lettered; applied in seq order later.
CREATE TABLE parked_messages (
  seq            bigserial PRIMARY KEY,
  consumer_group text NOT NULL,
  topic          text NOT NULL,
  partition      integer NOT NULL,
  "offset"       bigint NOT NULL,
  record_key     text NOT NULL,
  record_value   text NOT NULL,
  headers        jsonb NOT NULL,
  parked_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (consumer_group, topic, partition, "offset")
);
CREATE INDEX parked_messages_key ON parked_messages (consumer_group, topic, record_key, seq);

CREATE FUNCTION dead_letters_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('dead_letters', NEW.consumer_group);
  RETURN NULL;
END $$;
CREATE TRIGGER dead_letters_notify AFTER UPDATE OF status ON dead_letters FOR EACH ROW EXECUTE FUNCTION dead_letters_notify();

-- Publication for the outbox connector (slots are created by the connector itself).
DO $$ BEGIN
  EXECUTE format('CREATE PUBLICATION %I FOR TABLE outbox', current_database() || '_outbox_pub');
END $$;

-- Least privilege for the shared roles, when they exist (infra/stack.sh creates them).
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trackops_cdc') THEN
    GRANT SELECT ON outbox TO trackops_cdc;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'relay_svc') THEN
    GRANT USAGE ON SCHEMA public TO relay_svc;
    GRANT SELECT, UPDATE, DELETE ON outbox TO relay_svc;
    GRANT SELECT, UPDATE ON dead_letters TO relay_svc;
    GRANT SELECT ON parked_messages, processed_events TO relay_svc;
  END IF;
END $$;

-- Down Migration
DO $$ BEGIN
  EXECUTE format('DROP PUBLICATION IF EXISTS %I', current_database() || '_outbox_pub');
END $$;
DROP TABLE IF EXISTS parked_messages, dead_letters, processed_events, outbox;
DROP FUNCTION IF EXISTS outbox_notify, dead_letters_notify;
