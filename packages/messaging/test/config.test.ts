import { describe, expect, it } from 'vitest'
import { Type } from 'typebox'
import { loadConfig } from '@trackops/runtime'
import { messagingSettings } from '../src/index.ts'

const schema = Type.Object(messagingSettings)

describe('messagingSettings', () => {
  it('when KAFKA_BROKERS lists brokers with spaces and empty entries, then it loads as the trimmed list', () => {
    expect(loadConfig(schema, { KAFKA_BROKERS: ' a:9092 , b:9093,,' }).KAFKA_BROKERS).toEqual(['a:9092', 'b:9093'])
  })

  it('when nothing is set, then the local broker, Connect and the debezium strategy are used', () => {
    expect(loadConfig(schema, {})).toEqual({ KAFKA_BROKERS: ['127.0.0.1:9092'], KAFKA_CONNECT_URL: 'http://127.0.0.1:8083', EVENT_PUBLISHING_STRATEGY: 'debezium' })
  })
})
