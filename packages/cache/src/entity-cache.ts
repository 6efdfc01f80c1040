// Cache-aside for one entity type (an order with its items, an inventory item), fenced by row version.
//
// A key holds a hash {v: version, d: encoded value} (an entry) or {v: version} alone (a tombstone). Invariant:
// while a key exists, the version stored under it never decreases. Every write is a compare-and-set Lua script:
//   fill (after a miss), warm (CDC row image), afterWrite (the writer, right after its commit):
//       store version v if the key is absent or holds a version <= v (an equal version is the same row state);
//   invalidate(v): leave a tombstone v if the key is absent or holds a version < v.
// A tombstone v means "versions below v are stale": a slow load that read version 4 before version 5 committed
// cannot fill over the tombstone its invalidation left, a CDC message for version 3 delivered late or replayed
// cannot overwrite version 5, and the fill of version 5 itself goes through. So versions must grow with every
// committed change of the entity (for an order: any change to it or its items), and a deleted row is invalidated
// with its last version + 1. Entries and tombstones expire after ttl + random jitter, a backstop only: the fence
// lasts as long as the key, so the TTL must be longer than the worst delay of a change message.
//
// Redis is an optimisation. get never fails because of it: it loads from the database and counts an error.
// Invalidations and warms that could not reach Redis are remembered (bounded) and replayed as tombstones as soon
// as Redis answers again; meanwhile this process treats cached versions below them as misses. When too many pile
// up, the cache's whole key space is dropped on recovery instead, and reads bypass Redis until that is done.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { defineScript } from '@trackops/runtime'
import { cacheMetrics as m } from './metrics.ts'

export interface Loaded<T> {
  value: T
  version: number
}

export interface Codec<T> {
  encode: (value: T) => string
  decode: (text: string) => T
}

export interface EntityCacheOptions<T> {
  redis: Redis
  /** Names the cache in stats and metrics, and in the default key prefix. */
  name: string
  ttlSeconds: number
  jitterSeconds: number
  /** Reads the entity and its row version from the database; null when it does not exist (not cached). */
  load: (id: string) => Promise<Loaded<T> | null>
  logger: Logger
  /** Default `cache:<name>:`. */
  keyPrefix?: string
  /** Default JSON, so T should be JSON-shaped (no Date, bigint or Map). */
  codec?: Codec<T>
  /** Failed invalidations remembered for replay before falling back to dropping the whole cache. Default 10 000. */
  maxPending?: number
}

/** applied: Redis now holds it; ignored: Redis already holds this or a newer version; deferred: Redis failed, replayed later. */
export type WriteOutcome = 'applied' | 'ignored' | 'deferred'

export interface CacheStats {
  hits: number
  misses: number
  /** hits / (hits + misses); null before the first read. */
  hitRatio: number | null
  loads: number
  invalidations: number
  errors: number
  /** Over the last 1000 loads; null before the first. */
  loadLatencyMs: { avg: number | null; p99: number | null }
  /** Redis is currently failing: reads go to the database. */
  degraded: boolean
  /** Writes refused by the version fence (late or replayed messages). */
  staleWritesIgnored: number
  /** Invalidations waiting for Redis to come back. */
  pendingInvalidations: number
}

export interface EntityCache<T> {
  readonly name: string
  get(id: string): Promise<T | null>
  invalidate(id: string, version: number): Promise<WriteOutcome>
  warm(id: string, value: T, version: number): Promise<WriteOutcome>
  /** warm, called by the writer right after its commit so its next read shows the write. */
  afterWrite(id: string, value: T, version: number): Promise<WriteOutcome>
  stats(): CacheStats
}

const fill = defineScript(`
local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
if current and current > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`)

const tombstone = defineScript(`
local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`)

const FAILED = Symbol('redis failed')
const LATENCY_WINDOW = 1000

const jsonCodec = { encode: (value: unknown) => JSON.stringify(value), decode: (text: string) => JSON.parse(text) as unknown }

function versionArg(version: number): string {
  if (!Number.isSafeInteger(Number(version))) throw new TypeError(`cache version must be an integer, got ${String(version)}`)
  return String(version)
}

export function createEntityCache<T>(opts: EntityCacheOptions<T>): EntityCache<T> {
  const { redis, name, logger, load } = opts
  const prefix = opts.keyPrefix ?? `cache:${name}:`
  const codec = (opts.codec ?? jsonCodec) as Codec<T>
  const maxPending = opts.maxPending ?? 10_000
  if (!(opts.ttlSeconds >= 1) || !(opts.jitterSeconds >= 0)) throw new TypeError('cache ttlSeconds must be >= 1 and jitterSeconds >= 0')
  const labels = { cache: name }
  const keyOf = (id: string) => prefix + id
  const ttl = () => opts.ttlSeconds + Math.floor(Math.random() * (Math.floor(opts.jitterSeconds) + 1))

  const inflight = new Map<string, Promise<{ value: T | null; hit: boolean }>>()
  const pending = new Map<string, number>()
  let resetNeeded = false
  let resetDirty = false
  let replaying = false
  let failing = false
  const counts = { hits: 0, misses: 0, loads: 0, invalidations: 0, errors: 0, staleWritesIgnored: 0 }
  const latencies: number[] = []
  let latencyNext = 0

  function failed(op: string, error: unknown) {
    counts.errors++
    m.errors.inc(labels)
    if (!failing) {
      failing = true
      logger.warn({ err: error, cache: name, op }, 'cache unavailable; reading from the database')
    }
  }

  function succeeded() {
    if (failing) {
      failing = false
      logger.info({ cache: name }, 'cache available again')
    }
    if ((pending.size > 0 || resetNeeded) && !replaying) void replay()
  }

  async function guarded<R>(op: string, run: () => Promise<R>): Promise<R | typeof FAILED> {
    // Without this check a client with an offline queue would make requests wait for Redis to come back.
    if (redis.status !== 'ready') {
      failed(op, new Error(`redis connection is ${redis.status}`))
      return FAILED
    }
    try {
      const result = await run()
      succeeded()
      return result
    } catch (error) {
      failed(op, error)
      return FAILED
    }
  }

  function defer(id: string, version: number) {
    if (resetNeeded) {
      resetDirty = true
      return
    }
    if (pending.size >= maxPending && !pending.has(id)) {
      logger.warn({ cache: name, pending: pending.size }, 'too many invalidations missed; the cache will be dropped when Redis returns')
      pending.clear()
      resetNeeded = true
      return
    }
    pending.set(id, Math.max(pending.get(id) ?? -Infinity, version))
  }

  function settle(id: string, version: number) {
    const waiting = pending.get(id)
    if (waiting !== undefined && waiting <= version) pending.delete(id)
  }

  async function dropAll() {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  }

  async function replay() {
    replaying = true
    try {
      while (resetNeeded) {
        resetDirty = false
        await dropAll()
        if (!resetDirty) resetNeeded = false
      }
      for (const [id, version] of [...pending]) {
        await tombstone(redis, [keyOf(id)], [versionArg(version), ttl()])
        if (pending.get(id) === version) pending.delete(id)
      }
    } catch (error) {
      failed('replay', error)
    } finally {
      replaying = false
    }
  }

  function observeLoad(seconds: number) {
    m.loadSeconds.observe(labels, seconds)
    latencies[latencyNext] = seconds * 1000
    latencyNext = (latencyNext + 1) % LATENCY_WINDOW
  }

  async function fetch(id: string): Promise<{ value: T | null; hit: boolean }> {
    const key = keyOf(id)
    if (resetNeeded && !replaying && redis.status === 'ready') void replay()
    if (!resetNeeded) {
      const cached = await guarded('read', () => redis.hmget(key, 'v', 'd'))
      if (cached !== FAILED) {
        const [version, data] = cached
        const fence = pending.get(id)
        if (version != null && data != null && (fence === undefined || Number(version) >= fence)) {
          try {
            return { value: codec.decode(data), hit: true }
          } catch (error) {
            logger.warn({ err: error, cache: name }, 'undecodable cache entry; reloading')
          }
        }
      }
    }
    counts.loads++
    const started = performance.now()
    const loaded = await load(id)
    observeLoad((performance.now() - started) / 1000)
    if (loaded && !resetNeeded) {
      const stored = await guarded('fill', () => fill(redis, [key], [versionArg(loaded.version), codec.encode(loaded.value), ttl()]))
      if (stored === 0) counts.staleWritesIgnored++
      if (stored === 1) settle(id, loaded.version)
    }
    return { value: loaded ? loaded.value : null, hit: false }
  }

  async function write(op: 'warm' | 'invalidate', id: string, version: number, value?: T): Promise<WriteOutcome> {
    // A read already on its way may return the state from before this change: later reads must not join it.
    inflight.delete(id)
    const args = op === 'warm' ? [versionArg(version), codec.encode(value as T), ttl()] : [versionArg(version), ttl()]
    const result = await guarded(op, () => (op === 'warm' ? fill : tombstone)(redis, [keyOf(id)], args))
    if (result === FAILED) {
      defer(id, version)
      return 'deferred'
    }
    if (result === 0) {
      counts.staleWritesIgnored++
      return 'ignored'
    }
    settle(id, version)
    return 'applied'
  }

  const warm = (id: string, value: T, version: number) => write('warm', id, version, value)

  return {
    name,
    async get(id) {
      let flight = inflight.get(id)
      if (!flight) {
        const started = fetch(id).finally(() => {
          if (inflight.get(id) === started) inflight.delete(id)
        })
        inflight.set(id, started)
        flight = started
      }
      const { value, hit } = await flight
      if (hit) counts.hits++
      else counts.misses++
      m.requests.inc({ cache: name, result: hit ? 'hit' : 'miss' })
      return value
    },
    invalidate(id, version) {
      counts.invalidations++
      m.invalidations.inc(labels)
      return write('invalidate', id, version)
    },
    warm,
    afterWrite: warm,
    stats() {
      const window = [...latencies].sort((a, b) => a - b)
      const round = (x: number) => Math.round(x * 1000) / 1000
      const reads = counts.hits + counts.misses
      return {
        hits: counts.hits,
        misses: counts.misses,
        hitRatio: reads === 0 ? null : round(counts.hits / reads),
        loads: counts.loads,
        invalidations: counts.invalidations,
        errors: counts.errors,
        loadLatencyMs: {
          avg: window.length === 0 ? null : round(window.reduce((a, b) => a + b, 0) / window.length),
          p99: window.length === 0 ? null : round(window[Math.max(0, Math.ceil(window.length * 0.99) - 1)]!),
        },
        degraded: failing || redis.status !== 'ready',
        staleWritesIgnored: counts.staleWritesIgnored,
        pendingInvalidations: pending.size,
      }
    },
  }
}
