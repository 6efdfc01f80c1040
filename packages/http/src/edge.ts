// What every process's app takes from the shared HTTP settings (httpSettings): who may call (the token verifier),
// how often (rate limits, kept in Redis so they hold across copies) and whether /actuator/prometheus is public.
import type { Redis } from 'ioredis'
import type { AppOptions } from './app.ts'
import type { Role } from './auth.ts'
import { createVerifier } from './auth.ts'
import { createRateLimiter, rateLimitSettings } from './rate-limit.ts'

export type EdgeOptions = Pick<AppOptions, 'verify' | 'rateLimit' | 'metricsPublic'>

/** What a service's buildApp gets in its deps and hands to createApp as it is: its logger and health, and the edge. */
export type AppBase = Pick<AppOptions, 'logger' | 'health'> & EdgeOptions

export const appBaseOf = (deps: AppBase): AppBase => ({
  logger: deps.logger,
  health: deps.health,
  verify: deps.verify,
  ...(deps.rateLimit ? { rateLimit: deps.rateLimit } : {}),
  ...(deps.metricsPublic !== undefined ? { metricsPublic: deps.metricsPublic } : {}),
})

/** Route config of the routes for operators and admins. */
export const staffOnly = { auth: ['operator', 'admin'] as Role[] }

export interface EdgeConfig {
  JWT_SECRET?: string | undefined
  JWT_JWKS_URL?: string | undefined
  JWT_ISSUER: string
  JWT_AUDIENCE: string
  METRICS_PUBLIC: boolean
  RATE_LIMIT_ENABLED: boolean
  RATE_LIMIT_WINDOW_SECONDS: number
  RATE_LIMIT_READ_PER_WINDOW: number
  RATE_LIMIT_WRITE_PER_WINDOW: number
}

/** Without Redis (a process that runs without rate limits) there is no limiter; the verifier is never optional. */
export function edgeOptions(service: string, config: EdgeConfig, redis: Redis | null): EdgeOptions {
  return {
    verify: createVerifier({ secret: config.JWT_SECRET, jwksUrl: config.JWT_JWKS_URL, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }),
    ...(redis ? { rateLimit: createRateLimiter(redis, service, rateLimitSettings(config)) } : {}),
    metricsPublic: config.METRICS_PUBLIC,
  }
}
