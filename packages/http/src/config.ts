import { Type, type Static, type TObject, type TProperties } from 'typebox'
import { Value } from 'typebox/value'

const Bool = Type.Union([Type.Literal('true'), Type.Literal('false')])

/** Settings every HTTP service reads (from the environment only). Services extend it with their own. */
export const baseConfigProperties = {
  HOST: Type.String({ default: '127.0.0.1' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  TRACKOPS_DEV_MODE: Type.Optional(Bool),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379' }),
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:9092' }),
  KAFKA_CONNECT_URL: Type.String({ default: 'http://127.0.0.1:8083' }),
  EVENT_PUBLISHING_STRATEGY: Type.Union([Type.Literal('debezium'), Type.Literal('outbox')], { default: 'debezium' }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_JWKS_URL: Type.Optional(Type.String()),
  JWT_ISSUER: Type.String({ default: 'trackops-local' }),
  JWT_AUDIENCE: Type.String({ default: 'trackops' }),
  METRICS_PUBLIC: Bool,
  RATE_LIMIT_ENABLED: Bool,
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  RATE_LIMIT_READ_PER_WINDOW: Type.Integer({ minimum: 1, default: 1200 }),
  RATE_LIMIT_WRITE_PER_WINDOW: Type.Integer({ minimum: 1, default: 300 }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String()),
}
const defaults: Record<string, string> = { METRICS_PUBLIC: 'true', RATE_LIMIT_ENABLED: 'true' }

export const DEV_JWT_SECRET = 'trackops-local-development-only-secret-0001'
const PLACEHOLDER = /change[-_ ]?me|placeholder|^secret$|^password$|your[-_]secret/i

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}\nSee .env.example for every setting.`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/**
 * Validates the environment against the schema, reporting every problem at once. Numbers are converted from
 * strings; defaults applied. The JWT secret must be real unless TRACKOPS_DEV_MODE=true was chosen explicitly.
 */
export function loadConfig<P extends TProperties>(schema: TObject<P>, env: Record<string, string | undefined>) {
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key] ?? defaults[key]
    if (raw !== undefined && raw !== '') input[key] = raw
  }
  const withDefaults = Value.Default(schema, input)
  const converted = Value.Convert(schema, withDefaults)
  const problems = [...Value.Errors(schema, converted)].map((e) => `${e.instancePath.slice(1) || '(root)'}: ${e.message}`)
  const config = converted as Static<TObject<P>> & Record<string, unknown>
  const dev = config.TRACKOPS_DEV_MODE === 'true'
  if ('JWT_SECRET' in schema.properties) {
    const secret = config.JWT_SECRET as string | undefined
    if (!secret && !config.JWT_JWKS_URL) {
      if (dev) (config as Record<string, unknown>).JWT_SECRET = DEV_JWT_SECRET
      else problems.push('JWT_SECRET (or JWT_JWKS_URL) is required; set TRACKOPS_DEV_MODE=true to use the local development secret')
    } else if (secret && !dev && (secret.length < 32 || PLACEHOLDER.test(secret) || secret === DEV_JWT_SECRET)) {
      problems.push('JWT_SECRET is a placeholder or shorter than 32 characters; generate one with `openssl rand -base64 48`')
    }
  }
  if (problems.length) throw new ConfigError(problems)
  return config
}

export const configSchema = <P extends TProperties>(own: P) => Type.Object({ ...baseConfigProperties, ...own })
export type BaseConfig = Static<ReturnType<typeof configSchema<Record<never, never>>>>
