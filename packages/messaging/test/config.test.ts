import { describe, expect, it } from 'vitest'
import { Type } from 'typebox'
import { loadConfig } from '@trackops/runtime'
import { batchPolicyOf, messagingSettings } from '../src/index.ts'

const schema = Type.Object(messagingSettings)

describe('messagingSettings', () => {
  it('when KAFKA_BROKERS lists brokers with spaces and empty entries, then it loads as the trimmed list', () => {
    expect(loadConfig(schema, { KAFKA_BROKERS: ' a:9092 , b:9093,,' }).KAFKA_BROKERS).toEqual(['a:9092', 'b:9093'])
  })

  it('when nothing is set, then the local broker, Connect, the debezium strategy and batches of up to 200 records waiting 5 ms are used', () => {
    expect(loadConfig(schema, {})).toEqual({
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      KAFKA_CONNECT_URL: 'http://127.0.0.1:8083',
      EVENT_PUBLISHING_STRATEGY: 'debezium',
      CONSUMER_BATCH_MAX_RECORDS: 200,
      CONSUMER_BATCH_MAX_WAIT_MS: 5,
    })
  })

  it('when the batch size is 0 or above 1000, then the configuration is refused', () => {
    expect(() => loadConfig(schema, { CONSUMER_BATCH_MAX_RECORDS: '0' })).toThrow(/CONSUMER_BATCH_MAX_RECORDS/)
    expect(() => loadConfig(schema, { CONSUMER_BATCH_MAX_RECORDS: '1001' })).toThrow(/CONSUMER_BATCH_MAX_RECORDS/)
    expect(batchPolicyOf(loadConfig(schema, { CONSUMER_BATCH_MAX_RECORDS: '50', CONSUMER_BATCH_MAX_WAIT_MS: '0' }))).toEqual({ maxRecords: 50, maxWaitMs: 0 })
  })
})
