import { Type } from 'typebox'
import { booleanSetting, withRule } from '@trackops/runtime'

export const DEV_JWT_SECRET = 'trackops-local-development-only-secret-0001'
const PLACEHOLDER = /change[-_ ]?me|placeholder|^secret$|^password$|your[-_]secret/i

/** The JWT secret must be real unless TRACKOPS_DEV_MODE=true was chosen explicitly; then it defaults to the development one. */
function checkJwtSecret(config: Record<string, unknown>): string[] {
  const dev = config.TRACKOPS_DEV_MODE === true
  const secret = config.JWT_SECRET as string | undefined
  if (!secret && !config.JWT_JWKS_URL) {
    if (dev) config.JWT_SECRET = DEV_JWT_SECRET
    else return ['JWT_SECRET (or JWT_JWKS_URL) is required; set TRACKOPS_DEV_MODE=true to use the local development secret']
  } else if (secret && !dev && (secret.length < 32 || PLACEHOLDER.test(secret) || secret === DEV_JWT_SECRET)) {
    return ['JWT_SECRET is a placeholder or shorter than 32 characters; generate one with `openssl rand -base64 48`']
  }
  return []
}

/** Settings of a service that answers HTTP: where it listens, auth, metrics access, rate limits. The port is the service's own. */
export const httpSettings = {
  HOST: Type.String({ default: '127.0.0.1' }),
  TRACKOPS_DEV_MODE: booleanSetting(false),
  JWT_SECRET: withRule(Type.Optional(Type.String()), checkJwtSecret),
  JWT_JWKS_URL: Type.Optional(Type.String()),
  JWT_ISSUER: Type.String({ default: 'trackops-local' }),
  JWT_AUDIENCE: Type.String({ default: 'trackops' }),
  METRICS_PUBLIC: booleanSetting(true),
  RATE_LIMIT_ENABLED: booleanSetting(true),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  RATE_LIMIT_READ_PER_WINDOW: Type.Integer({ minimum: 1, default: 1200 }),
  RATE_LIMIT_WRITE_PER_WINDOW: Type.Integer({ minimum: 1, default: 300 }),
}
