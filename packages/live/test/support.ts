// Real Redis for the live-update tests: a channel of their own per run.
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { createRedis, type Redis } from '@trackops/runtime'
import { testEnv } from '../../../tests/support/env.ts'
import { eventually } from '../../../tests/support/stack.ts'

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
export const redisUrl = testEnv.redisUrl
export const runId = randomUUID().slice(0, 8)

export function connect(name: string): Redis {
  const redis = createRedis(redisUrl, name)
  redis.on('error', () => undefined) // expected while a test stops Redis
  return redis
}

export const connected = (redis: Redis) => eventually(() => redis.status === 'ready', 10_000, 'a Redis connection')
