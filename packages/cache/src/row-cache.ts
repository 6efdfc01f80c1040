// A version-fenced cache of one kind of row, read by id on a service's request path (the order cache, the item
// cache): loaded on a miss, warmed by the writer right after its commit, and re-read and warmed after a commit
// whose result the caller does not hold. Each row carries its own version (see entity-cache.ts for the fence).
import client from 'prom-client'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createEntityCache, type Codec, type EntityCache, type WriteOutcome } from './entity-cache.ts'

export interface RowCacheOptions<T> {
  redis: Redis
  name: string
  ttlSeconds: number
  jitterSeconds: number
  logger: Logger
  keyPrefix?: string | undefined
  codec: Codec<T>
  /** Reads the committed row; null when there is none. */
  read: (id: string) => Promise<T | null>
  /** The id a row is cached under, and its version. */
  idOf: (row: T) => string
  versionOf: (row: T) => number
}

export interface RowCache<T> {
  cache: EntityCache<T>
  get(id: string): Promise<T | null>
  /** The writer, after its transaction committed: its next read shows what it wrote. */
  written(row: T): Promise<WriteOutcome>
  /** After a commit whose resulting rows the caller does not hold: reads the committed rows and warms them. */
  refresh(ids: readonly string[]): Promise<void>
}

export function createRowCache<T>(opts: RowCacheOptions<T>): RowCache<T> {
  const cache = createEntityCache<T>({
    redis: opts.redis,
    name: opts.name,
    ttlSeconds: opts.ttlSeconds,
    jitterSeconds: opts.jitterSeconds,
    logger: opts.logger,
    codec: opts.codec,
    ...(opts.keyPrefix ? { keyPrefix: opts.keyPrefix } : {}),
    load: async (id) => {
      const row = await opts.read(id)
      return row ? { value: row, version: opts.versionOf(row) } : null
    },
  })
  const written = (row: T) => cache.afterWrite(opts.idOf(row), row, opts.versionOf(row))
  return {
    cache,
    get: (id) => cache.get(id),
    written,
    async refresh(ids) {
      for (const id of new Set(ids)) {
        const row = await opts.read(id)
        if (row) await written(row)
      }
    },
  }
}

const invalidationLag =
  (client.register.getSingleMetric('trackops_cache_invalidation_lag_seconds') as client.Histogram | undefined) ??
  new client.Histogram({
    name: 'trackops_cache_invalidation_lag_seconds',
    help: 'From the commit of a change (Debezium source.ts_ms, or the domain event time) to its invalidation or warm applied in Redis.',
    labelNames: ['cache'],
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
  })

/** The lag of a change that reached Redis; a deferred write is measured by its replay, not here. */
export function observeInvalidationLag(cache: string, committedAt: number, outcome: WriteOutcome) {
  if (outcome !== 'deferred') invalidationLag.observe({ cache }, Math.max(0, Date.now() - committedAt) / 1000)
}
