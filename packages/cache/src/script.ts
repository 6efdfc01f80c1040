import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/**
 * A Lua script run with EVALSHA, falling back to EVAL when Redis does not know it yet (first use, or after a
 * Redis restart flushed the script cache). Scripts run atomically, which is what the version fences rely on.
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
