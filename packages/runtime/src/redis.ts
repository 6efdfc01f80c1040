import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { scrapedGauges } from './scraped-gauges.ts'

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

/** What Redis says of its memory: INFO memory and stats, as numbers. */
export interface RedisMemory {
  usedBytes: number
  /** 0: no bound. */
  maxBytes: number
  policy: string
  evictedKeys: number
}

export async function redisMemory(redis: { info(section: string): Promise<string> }): Promise<RedisMemory> {
  const [memory, stats] = await Promise.all([redis.info('memory'), redis.info('stats')])
  const field = (text: string, name: string) => text.match(new RegExp(`^${name}:(.*)$`, 'm'))?.[1]?.trim() ?? ''
  return { usedBytes: Number(field(memory, 'used_memory')), maxBytes: Number(field(memory, 'maxmemory')), policy: field(memory, 'maxmemory_policy'), evictedKeys: Number(field(stats, 'evicted_keys')) }
}

const redisGauges = scrapedGauges<RedisMemory>([
  { name: 'trackops_redis_used_memory_bytes', help: 'Memory Redis uses (INFO used_memory).', samples: (m) => [[{}, m.usedBytes]] },
  { name: 'trackops_redis_max_memory_bytes', help: 'The memory bound of Redis (maxmemory; 0: none).', samples: (m) => [[{}, m.maxBytes]] },
  { name: 'trackops_redis_evicted_keys', help: 'Keys Redis evicted at its memory bound since it started (INFO evicted_keys).', samples: (m) => [[{}, m.evictedKeys]] },
])

/** The Redis memory gauges report `redis` from now on. */
export function registerRedisMetrics(redis: Redis, logger: Logger): void {
  redisGauges.attach(() => redisMemory(redis), logger)
}
