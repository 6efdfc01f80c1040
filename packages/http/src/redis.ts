import { Redis } from 'ioredis'

/**
 * A Redis client that fails fast while Redis is down (no offline queue, one try per command) so callers can
 * degrade — serve from PostgreSQL, let requests through — and reconnects by itself when Redis returns.
 * Commands issued in the same tick by concurrent requests (rate-limit counts, cache reads) go out as one pipeline:
 * one write and one read for many requests instead of one round trip each. A subscriber connection is created
 * without it (`autoPipelining: false`).
 */
export function createRedis(url: string, name: string, opts: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    enableAutoPipelining: opts.autoPipelining ?? true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  })
}
export type { Redis }
