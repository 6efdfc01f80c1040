// Stops the shared Redis for a few seconds: afterAll always starts it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEntityCache, createFanout, type Fanout, type FanoutMessage } from '../src/index.ts'
import { connect, connected, eventually, logger, redisUrl, runId, startRedis, stopRedis, uniquePrefix } from './support.ts'

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
const channel = `test:fanout-outage:${runId}`
let copyA: Fanout<Item>
let copyB: Fanout<Item>
const receivedByB: FanoutMessage<Item>[] = []
const gaps = { b: 0 }

beforeAll(async () => {
  await startRedis()
  copyA = createFanout<Item>({ redis: redisUrl, channel, logger })
  copyB = createFanout<Item>({ redis: redisUrl, channel, logger })
  copyB.subscribe((m) => receivedByB.push(m), { onGap: () => gaps.b++ })
  await Promise.all([copyA.ready(), copyB.ready(), connected(redis)])
  rows.set('sku-1', { value: { sku: 'sku-1', onHand: 5 }, version: 1 })
  await cache.get('sku-1')
  expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 5 })
  expect(cache.stats().hits).toBe(1)
})

afterAll(async () => {
  await startRedis()
  await Promise.all([copyA?.close(), copyB?.close(), redis.quit().catch(() => redis.disconnect())])
})

describe('when Redis goes away and comes back', () => {
  it('when Redis stops, then reads are served from the database, errors are counted, the cache reports degraded and publishing fails soft', async () => {
    await stopRedis()
    const loadsBefore = loads.count
    rows.set('sku-1', { value: { sku: 'sku-1', onHand: 4 }, version: 2 })

    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })
    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })
    expect(await cache.invalidate('sku-1', 2)).toBe('deferred')
    expect(await copyA.publish('sku-1', { sku: 'sku-1', onHand: 4 })).toBeNull()

    expect(loads.count).toBe(loadsBefore + 2)
    const stats = cache.stats()
    expect(stats.degraded).toBe(true)
    expect(stats.errors).toBeGreaterThanOrEqual(3)
    expect(stats.pendingInvalidations).toBe(1)
    expect(copyA.stats()).toMatchObject({ publishFailures: 1, degraded: true })
    expect((await copyA.recentEvents('sku-1', '1-0')).gap).toBe(true)
  })

  it('when Redis is back, then the same clients use the cache and deliver live updates again by themselves', async () => {
    await startRedis()

    await eventually(async () => {
      await cache.get('sku-1')
      return cache.stats().hits > 1
    }, 20_000, 'the cache to hit again')
    expect(cache.stats()).toMatchObject({ degraded: false, pendingInvalidations: 0 })
    expect(await cache.get('sku-1')).toEqual({ sku: 'sku-1', onHand: 4 })

    // Each copy reconnects on its own back-off: an event published before copy B has subscribed again is in the
    // history (resume) but not delivered live. Copy B is told about the gap once its subscription is back.
    await eventually(() => gaps.b >= 1, 20_000, 'the other copy to subscribe again')
    const id = await eventually(() => copyA.publish('sku-1', { sku: 'sku-1', onHand: 3 }), 20_000, 'publishing to work again')
    await eventually(() => receivedByB.some((m) => m.id === id), 20_000, 'the other copy to receive again')
    expect(gaps.b).toBe(1)
    expect(copyA.stats().degraded).toBe(false)
  })
})
