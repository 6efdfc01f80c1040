// Redis memory in health and metrics, read from the real Redis of the stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import client from 'prom-client'
import pino from 'pino'
import { testEnv } from '../../../tests/support/env.ts'
import { createRedis, redisComponent, registerRedisMetrics } from '../src/index.ts'

const redis = createRedis(testEnv.redisUrl, 'redis-memory-test')
// The client fails fast instead of queueing: wait until it is connected.
beforeAll(async () => {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
})
afterAll(() => redis.disconnect())
const sample = (text: string, name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1])

describe('Redis memory', () => {
  it('when health is checked, then it reports the memory used, the bound and the policy Redis itself states', async () => {
    const result = await redisComponent(redis).check()
    const configured = (await redis.config('GET', 'maxmemory')) as string[]
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[]
    expect(result.status).toBe('UP')
    expect(result.details).toMatchObject({ maxMemoryBytes: Number(configured[1]) || null, maxMemoryPolicy: policy[1] })
    expect(result.details?.usedMemoryBytes).toBeGreaterThan(0)
    expect(result.details?.evictedKeys).toBeGreaterThanOrEqual(0)
  })

  it('when scraped, then the gauges carry the same figures', async () => {
    registerRedisMetrics(redis, pino({ level: 'silent' }))
    const text = await client.register.metrics()
    const configured = (await redis.config('GET', 'maxmemory')) as string[]
    expect(sample(text, 'trackops_redis_used_memory_bytes')).toBeGreaterThan(0)
    expect(sample(text, 'trackops_redis_max_memory_bytes')).toBe(Number(configured[1]))
    expect(sample(text, 'trackops_redis_evicted_keys')).toBeGreaterThanOrEqual(0)
  })
})
