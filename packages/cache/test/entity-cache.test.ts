import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import client from 'prom-client'
import { createCacheRegistry, createEntityCache, type Loaded } from '../src/index.ts'
import { connect, connected, eventually, logger, partition, sleep, uniquePrefix } from './support.ts'

interface Order {
  id: string
  status: string
  version: number
}

const redis = connect('cache-test')
beforeAll(() => connected(redis))
afterAll(() => redis.quit())

/** A stand-in for the database: the current row per id, and a count of loads. */
function fakeTable() {
  const rows = new Map<string, Order>()
  const calls = { loads: 0 }
  return {
    rows,
    calls,
    put: (id: string, status: string, version: number) => rows.set(id, { id, status, version }),
    load: async (id: string): Promise<Loaded<Order> | null> => {
      calls.loads++
      const row = rows.get(id)
      return row ? { value: { ...row }, version: row.version } : null
    },
  }
}

function cacheFor(load: (id: string) => Promise<Loaded<Order> | null>, opts: { ttlSeconds?: number; jitterSeconds?: number; name?: string } = {}) {
  const keyPrefix = uniquePrefix(opts.name ?? 'orders')
  const cache = createEntityCache<Order>({ redis, name: opts.name ?? 'orders-test', ttlSeconds: opts.ttlSeconds ?? 60, jitterSeconds: opts.jitterSeconds ?? 10, load, logger, keyPrefix })
  return { cache, keyPrefix }
}

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('entity cache', () => {
  it('when an entry is read twice, then the first read misses and loads and the second hits', async () => {
    const table = fakeTable()
    table.put('o1', 'PLACED', 1)
    const { cache } = cacheFor(table.load)

    expect(await cache.get('o1')).toEqual({ id: 'o1', status: 'PLACED', version: 1 })
    expect(await cache.get('o1')).toEqual({ id: 'o1', status: 'PLACED', version: 1 })

    expect(table.calls.loads).toBe(1)
    const stats = cache.stats()
    expect(stats).toMatchObject({ hits: 1, misses: 1, hitRatio: 0.5, loads: 1, errors: 0, degraded: false })
    expect(stats.loadLatencyMs.avg).not.toBeNull()
    expect(stats.loadLatencyMs.p99).not.toBeNull()
  })

  it('when the row does not exist, then get returns null and nothing is cached', async () => {
    const table = fakeTable()
    const { cache, keyPrefix } = cacheFor(table.load)

    expect(await cache.get('missing')).toBeNull()
    expect(await cache.get('missing')).toBeNull()

    expect(table.calls.loads).toBe(2)
    expect(await redis.exists(`${keyPrefix}missing`)).toBe(0)
  })

  it('when 100 reads of one missing key arrive at once, then load runs once and all get its value', async () => {
    const table = fakeTable()
    table.put('hot', 'PLACED', 3)
    const slowLoad = async (id: string) => {
      await sleep(50)
      return table.load(id)
    }
    const { cache } = cacheFor(slowLoad)

    const values = await Promise.all(Array.from({ length: 100 }, () => cache.get('hot')))

    expect(table.calls.loads).toBe(1)
    expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(1)
    expect(values[0]).toMatchObject({ version: 3 })
    expect(cache.stats()).toMatchObject({ loads: 1, misses: 100 })
  })

  it('when an invalidation for version 5 lands while a slow load of version 4 is running, then that load does not populate the cache', async () => {
    const gate = deferred<void>()
    const readDone = deferred<void>()
    const table = fakeTable()
    table.put('o2', 'PLACED', 4)
    const { cache, keyPrefix } = cacheFor(async (id) => {
      const read = await table.load(id) // reads version 4 before the commit of version 5
      readDone.resolve()
      await gate.promise
      return read
    })

    const slowRead = cache.get('o2')
    await readDone.promise // the load has read the row (a Redis round trip first: no fixed wait is long enough)
    table.put('o2', 'PAID', 5)
    expect(await cache.invalidate('o2', 5)).toBe('applied')
    gate.resolve()

    expect(await slowRead).toMatchObject({ version: 4 })
    expect(await redis.hgetall(`${keyPrefix}o2`)).toEqual({ v: '5' })
    expect(cache.stats().staleWritesIgnored).toBe(1)
    expect(await cache.get('o2')).toMatchObject({ status: 'PAID', version: 5 })
    expect(await cache.get('o2')).toMatchObject({ status: 'PAID', version: 5 })
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, invalidations: 1 })
  })

  it('when warm for version 3 arrives after version 5, then it is ignored, and warm for version 6 wins', async () => {
    const table = fakeTable()
    const { cache } = cacheFor(table.load)

    expect(await cache.warm('o3', { id: 'o3', status: 'SHIPPED', version: 5 }, 5)).toBe('applied')
    expect(await cache.warm('o3', { id: 'o3', status: 'PLACED', version: 3 }, 3)).toBe('ignored')
    expect(await cache.get('o3')).toMatchObject({ version: 5 })
    expect(await cache.warm('o3', { id: 'o3', status: 'DELIVERED', version: 6 }, 6)).toBe('applied')
    expect(await cache.invalidate('o3', 5)).toBe('ignored')

    expect(await cache.get('o3')).toMatchObject({ status: 'DELIVERED', version: 6 })
    expect(table.calls.loads).toBe(0)
  })

  it('when the writer calls afterWrite, then its next read shows the write even if CDC delivers the older version later', async () => {
    const table = fakeTable()
    table.put('o4', 'PLACED', 1)
    const { cache } = cacheFor(table.load)
    await cache.get('o4')

    table.put('o4', 'CANCELLED', 2)
    expect(await cache.afterWrite('o4', { id: 'o4', status: 'CANCELLED', version: 2 }, 2)).toBe('applied')
    expect(await cache.get('o4')).toMatchObject({ status: 'CANCELLED' })
    expect(await cache.warm('o4', { id: 'o4', status: 'PLACED', version: 1 }, 1)).toBe('ignored') // late CDC image
    expect(await cache.invalidate('o4', 2)).toBe('ignored') // CDC for the same commit

    expect(await cache.get('o4')).toMatchObject({ status: 'CANCELLED', version: 2 })
    expect(table.calls.loads).toBe(1)
  })

  it('when a read is in flight as a write lands, then a read after the write does not join the older read', async () => {
    const gate = deferred<void>()
    const readDone = deferred<void>()
    const table = fakeTable()
    table.put('o5', 'PLACED', 1)
    const { cache } = cacheFor(async (id) => {
      const read = await table.load(id)
      if (read?.version === 1) {
        readDone.resolve()
        await gate.promise
      }
      return read
    })

    const before = cache.get('o5')
    await readDone.promise // the first read is in flight, past its look at the row
    table.put('o5', 'PAID', 2)
    await cache.afterWrite('o5', { id: 'o5', status: 'PAID', version: 2 }, 2)
    const after = await cache.get('o5')
    gate.resolve()

    expect(after).toMatchObject({ version: 2 })
    expect(await before).toMatchObject({ version: 1 })
    expect(await cache.get('o5')).toMatchObject({ version: 2 })
  })

  it('when entries and tombstones are stored, then their TTL lies between ttl and ttl + jitter', async () => {
    const table = fakeTable()
    const { cache, keyPrefix } = cacheFor(table.load, { ttlSeconds: 100, jitterSeconds: 50 })
    const ids = Array.from({ length: 40 }, (_, i) => `t${i}`)
    for (const id of ids) table.put(id, 'PLACED', 1)

    const started = Date.now()
    await Promise.all(ids.slice(0, 20).map((id) => cache.get(id)))
    await Promise.all(ids.slice(20).map((id) => cache.invalidate(id, 1)))

    const ttls = await Promise.all(ids.map((id) => redis.ttl(keyPrefix + id)))
    // What is left of a TTL shrinks with the time the writes and reads took (seconds, on a loaded machine).
    const elapsed = Math.ceil((Date.now() - started) / 1000)
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThanOrEqual(99 - elapsed)
      expect(ttl).toBeLessThanOrEqual(150)
    }
    // Jitter, not the clock moving on between the writes, spreads them.
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(elapsed + 1)
  })

  it('when an invalidation cannot reach Redis, then the stale entry is never served and the invalidation is replayed once Redis answers', async () => {
    const own = connect('cache-test-partition')
    try {
      const table = fakeTable()
      table.put('o6', 'PLACED', 6)
      const keyPrefix = uniquePrefix('partition')
      const cache = createEntityCache<Order>({ redis: own, name: 'orders-partition', ttlSeconds: 60, jitterSeconds: 0, load: table.load, logger, keyPrefix })
      await connected(own)
      await cache.get('o6')

      await partition(own) // this process loses Redis; Redis keeps the version 6 entry
      table.put('o6', 'PAID', 7)
      expect(await cache.invalidate('o6', 7)).toBe('deferred')
      expect(await cache.get('o6')).toMatchObject({ version: 7 })
      expect(cache.stats()).toMatchObject({ degraded: true, pendingInvalidations: 1 })
      expect(cache.stats().errors).toBeGreaterThan(0)

      await own.connect()
      await connected(own)
      expect(await cache.get('o6')).toMatchObject({ status: 'PAID', version: 7 })
      expect(await redis.hget(`${keyPrefix}o6`, 'v')).toBe('7')
      expect(cache.stats()).toMatchObject({ degraded: false, pendingInvalidations: 0 })
    } finally {
      own.disconnect()
    }
  })

  it('when more invalidations are missed than can be remembered, then the whole cache is dropped once Redis answers', async () => {
    const own = connect('cache-test-reset')
    try {
      const table = fakeTable()
      const keyPrefix = uniquePrefix('reset')
      const cache = createEntityCache<Order>({ redis: own, name: 'orders-reset', ttlSeconds: 60, jitterSeconds: 0, load: table.load, logger, keyPrefix, maxPending: 2 })
      await connected(own)
      for (const id of ['a', 'b', 'c']) {
        table.put(id, 'PLACED', 1)
        await cache.get(id)
      }

      await partition(own)
      for (const id of ['a', 'b', 'c']) {
        table.put(id, 'PAID', 2)
        expect(await cache.invalidate(id, 2)).toBe('deferred')
      }
      await own.connect()
      await connected(own)

      expect(await cache.get('c')).toMatchObject({ status: 'PAID' })
      await eventually(async () => (await redis.keys(`${keyPrefix}*`)).length === 0, 15_000, 'the cache to be dropped')
      // Seen from another connection, the keys can be gone a moment before the cache has noted the drop as done
      // (until then it reads past Redis): it is used again, by itself, soon after.
      await eventually(async () => {
        expect(await cache.get('a')).toMatchObject({ status: 'PAID' })
        return cache.stats().hits > 0
      }, 15_000, 'a cache hit after the drop')
    } finally {
      own.disconnect()
    }
  })

  it('when caches are registered, then the actuator snapshot lists each with its statistics and Prometheus counts them', async () => {
    const table = fakeTable()
    table.put('r1', 'PLACED', 1)
    const registry = createCacheRegistry()
    const name = `orders-registry-${Date.now()}`
    const { cache } = cacheFor(table.load, { name })
    registry.add(cache)
    registry.add(cacheFor(table.load, { name: `${name}-items` }).cache)
    await cache.get('r1')
    await cache.get('r1')
    await cache.invalidate('r1', 2)

    const snapshot = registry.snapshot()
    expect(Object.keys(snapshot.caches).sort()).toEqual([name, `${name}-items`])
    expect(snapshot.caches[name]).toMatchObject({ hits: 1, misses: 1, hitRatio: 0.5, loads: 1, invalidations: 1, errors: 0, degraded: false })
    expect(snapshot.caches[`${name}-items`]).toMatchObject({ hits: 0, misses: 0, hitRatio: null })
    expect(() => registry.add(cache)).toThrow(/already registered/)

    const text = await client.register.metrics()
    expect(text).toContain(`trackops_cache_requests_total{cache="${name}",result="hit"} 1`)
    expect(text).toContain(`trackops_cache_requests_total{cache="${name}",result="miss"} 1`)
    expect(text).toContain(`trackops_cache_invalidations_total{cache="${name}"} 1`)
    expect(text).toContain(`trackops_cache_load_seconds_count{cache="${name}"} 1`)
  })
})
