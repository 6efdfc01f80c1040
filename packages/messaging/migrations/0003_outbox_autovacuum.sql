-- Up Migration
-- The outbox is a queue: under the outbox strategy the relay marks every row published (an update) and pruning
-- deletes them, so dead rows pile up in the unpublished-rows index the relay scans on every pass. The default
-- threshold (20 % of the table) lets tens of thousands accumulate (measured: 274,000 dead index entries after a
-- backlog of 60,000 rows, and the relay's 1 ms query took 173 ms). Vacuum it after a fixed number of changes instead.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                        autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

-- Down Migration
ALTER TABLE outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
                          autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
