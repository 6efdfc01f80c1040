-- Up Migration
-- A record's place in Kafka (topic, partition, offset) names another record once Kafka's data is reset while the
-- service databases stay (a new cluster, a wiped local stack, another checkout's stack on the same PostgreSQL).
-- Keyed by place alone, the dead letter or parked record of the new record was taken for a copy of the old one and
-- silently dropped. The record's value is part of its identity now: a redelivered record is still one row.
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_consumer_group_topic_partition_offset_key;
CREATE UNIQUE INDEX dead_letters_record ON dead_letters (consumer_group, topic, partition, "offset", md5(record_value));
ALTER TABLE parked_messages DROP CONSTRAINT parked_messages_consumer_group_topic_partition_offset_key;
CREATE UNIQUE INDEX parked_messages_record ON parked_messages (consumer_group, topic, partition, "offset", md5(record_value));

-- Down Migration
DROP INDEX parked_messages_record;
ALTER TABLE parked_messages ADD CONSTRAINT parked_messages_consumer_group_topic_partition_offset_key UNIQUE (consumer_group, topic, partition, "offset");
DROP INDEX dead_letters_record;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_consumer_group_topic_partition_offset_key UNIQUE (consumer_group, topic, partition, "offset");
