import { Redis } from 'ioredis'

/**
 * A Redis client that fails fast while Redis is down (no offline queue, one try per command) so callers can
 * degrade — serve from PostgreSQL, let requests through — and reconnects by itself when Redis returns.
 */
export function createRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  })
}
export type { Redis }
