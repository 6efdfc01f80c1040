-- Up Migration
-- NOTIFY makes every committing transaction take one cluster-wide lock, so writers of every database commit one at a
-- time (measured: the place-order transaction ran at 515 tx/s with the trigger's NOTIFY, 1065 without). Only the
-- polling relay listens, so the trigger notifies only for sessions of services running the outbox strategy: they
-- connect with `-c trackops.notify_outbox=on` (createDb's notifyOutbox option).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('trackops.notify_outbox', true) = 'on' THEN
    PERFORM pg_notify('outbox', '');
  END IF;
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END $$;
