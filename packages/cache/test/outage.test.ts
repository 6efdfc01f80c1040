// Stops the shared Redis for a few seconds: afterAll always starts it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEntityCache } from '../src/index.ts'
import { connect, connected, eventually, logger, startRedis, stopRedis, uniquePrefix } from './support.ts'

interface Item {
  sku: string
  onHand: number
}

const rows = new Map<string, { value: Item; version: number }>()
const loads = { count: 0 }
const redis = connect('cache-outage-test')
const cache = createEntityCache<Item>({
  redis,
  name: 'items-outage-test',
  ttlSeconds: 60,
  jitterSeconds: 5,
  logger,
  keyPrefix: uniquePrefix('items'),
  load: async (id) => {
    loads.count++
    return rows.get(id) ?? null
  },
})

beforeAll(async () => {
  await startRedis()
  await connected(redis)
  rows.set('sku-1', { value: { sku: 'sku-1', onHand: 5 }, version: 1 })
  await cache.get('sku-1')
  expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 5 })
  expect(cache.stats().hits).toBe(1)
})

afterAll(async () => {
  await startRedis()
  await redis.quit().catch(() => redis.disconnect())
})

describe('when Redis goes away and comes back', () => {
  it('when Redis stops, then reads are served from the database, errors are counted, and the cache reports degraded', async () => {
    await stopRedis()
    const loadsBefore = loads.count
    rows.set('sku-1', { value: { sku: 'sku-1', onHand: 4 }, version: 2 })

    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })
    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })
    expect(await cache.invalidate('sku-1', 2)).toBe('deferred')

    expect(loads.count).toBe(loadsBefore + 2)
    const stats = cache.stats()
    expect(stats.degraded).toBe(true)
    expect(stats.errors).toBeGreaterThanOrEqual(3)
    expect(stats.pendingInvalidations).toBe(1)
  })

  it('when Redis is back, then the same client uses the cache again by itself', async () => {
    await startRedis()

    await eventually(async () => {
      await cache.get('sku-1')
      return cache.stats().hits > 1
    }, 20_000, 'the cache to hit again')
    expect(cache.stats()).toMatchObject({ degraded: false, pendingInvalidations: 0 })
    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })
  })
})
