// Per-client fixed-window rate limiting in Redis, so the limit holds across every copy of a service. The window
// is aligned to wall-clock multiples of its length, which makes X-RateLimit-Reset the true reset time.
import client from 'prom-client'
import type { Redis } from 'ioredis'

export type RouteClass = 'read' | 'write'
export interface RateLimitSettings {
  enabled: boolean
  windowSeconds: number
  limits: Record<RouteClass, number>
}

const rejected =
  (client.register.getSingleMetric('trackops_rate_limit_rejections_total') as client.Counter | undefined) ??
  new client.Counter({ name: 'trackops_rate_limit_rejections_total', help: 'Requests refused with 429.', labelNames: ['class'] })
const failOpen =
  (client.register.getSingleMetric('trackops_rate_limit_fail_open_total') as client.Counter | undefined) ??
  new client.Counter({ name: 'trackops_rate_limit_fail_open_total', help: 'Requests let through because Redis did not answer.' })

// One round trip: count the request and set the window's expiry when the counter is new.
const INCR_WITH_EXPIRY = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`

export interface RateDecision {
  allowed: boolean
  limit: number
  remaining: number
  resetEpochSeconds: number
  retryAfterSeconds: number
}

export function createRateLimiter(redis: Redis, service: string, settings: RateLimitSettings) {
  return async (clientId: string, routeClass: RouteClass): Promise<RateDecision | null> => {
    if (!settings.enabled) return null
    const limit = settings.limits[routeClass]
    const nowMs = Date.now()
    const windowMs = settings.windowSeconds * 1000
    const windowStart = Math.floor(nowMs / windowMs) * windowMs
    const resetMs = windowStart + windowMs
    const key = `ratelimit:${service}:${routeClass}:${clientId}:${windowStart}`
    try {
      const count = (await redis.eval(INCR_WITH_EXPIRY, 1, key, windowMs + 1000)) as number
      const allowed = count <= limit
      if (!allowed) rejected.inc({ class: routeClass })
      return {
        allowed,
        limit,
        remaining: Math.max(0, limit - count),
        resetEpochSeconds: Math.ceil(resetMs / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil((resetMs - nowMs) / 1000)),
      }
    } catch {
      failOpen.inc()
      return null
    }
  }
}

/** The limiter settings of a service's configuration (RATE_LIMIT_* in .env.example). */
export function rateLimitSettings(config: {
  RATE_LIMIT_ENABLED: boolean
  RATE_LIMIT_WINDOW_SECONDS: number
  RATE_LIMIT_READ_PER_WINDOW: number
  RATE_LIMIT_WRITE_PER_WINDOW: number
}): RateLimitSettings {
  return {
    enabled: config.RATE_LIMIT_ENABLED,
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    limits: { read: config.RATE_LIMIT_READ_PER_WINDOW, write: config.RATE_LIMIT_WRITE_PER_WINDOW },
  }
}
