import { createHash } from 'node:crypto'
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

/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis does not know it yet (first use, or after a
 * Redis restart flushed the script cache). Scripts run atomically, which is what the
 * cache's version fences and the live fan-out's append-and-publish rely on.
 */
export function defineScript(source: string) {
  const sha = createHash('sha1').update(source).digest('hex')
  return async (redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return redis.eval(source, keys.length, ...keys, ...args)
    }
  }
}
