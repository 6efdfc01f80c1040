// Settings come from the environment only, validated once in main.ts. Each package declares the settings it
// reads as a property set; a service composes the sets it uses with its own:
//   loadConfig(Type.Object({ ...runtimeSettings, ...httpSettings, ...messagingSettings, OWN_SETTING: Type... }), env)
import { Type, type StaticDecode, type TObject, type TProperties, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { createLogger } from './logger.ts'

/** Settings of the process itself: logging, Redis, trace export. */
export const runtimeSettings = {
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379' }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String()),
}

/** A yes/no setting: exactly `true` or `false` in the environment (`fallback` when unset), a boolean in the loaded configuration. */
export const booleanSetting = (fallback: boolean) =>
  Type.Decode(Type.Union([Type.Literal('true'), Type.Literal('false')], { default: String(fallback) }), (text) => text === 'true')

/**
 * A rule a setting brings along that needs the other settings (property sets are spread into one object, so a rule
 * cannot sit on the object): it runs once every setting is read, may fill its setting in, and returns the problems
 * it found, reported with the schema's.
 */
export type SettingRule = (config: Record<string, unknown>) => string[]
const ruleKey = Symbol('trackops.settingRule')

export function withRule<S extends TSchema>(schema: S, rule: SettingRule): S {
  return Object.assign(schema, { [ruleKey]: rule })
}

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}\nSee .env.example for every setting.`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|_KEY\b|_URL$/

/** `PORT="abc" is not accepted: expected a whole number from 1 to 65535` — never the value of a setting that may hold a secret. */
function settingProblem(key: string, raw: string | undefined, setting: TSchema): string {
  if (raw === undefined || raw === '') return `${key} is required (not set): expected ${accepted(setting)}`
  const shown = SECRET_NAME.test(key) ? 'its value' : JSON.stringify(raw)
  return `${key}=${shown} is not accepted: expected ${accepted(setting)}`
}

function accepted(schema: TSchema): string {
  const s = schema as Record<string, unknown>
  const choices = (s.anyOf as { const?: unknown }[] | undefined)?.map((o) => o.const) ?? (s.enum as unknown[] | undefined)
  if (choices && choices.every((c) => c !== undefined)) return choices.length === 2 ? `${String(choices[0])} or ${String(choices[1])}` : `one of ${choices.join(', ')}`
  const range = (min: unknown, max: unknown) =>
    typeof min === 'number' && typeof max === 'number' ? ` from ${min} to ${max}` : typeof min === 'number' ? ` of at least ${min}` : typeof max === 'number' ? ` of at most ${max}` : ''
  if (s.type === 'integer') return `a whole number${range(s.minimum, s.maximum)}`
  if (s.type === 'number') return `a number${range(s.minimum, s.maximum)}`
  if (s.type === 'string') return s.minLength === 1 && s.maxLength === undefined ? 'non-empty text' : `text${range(s.minLength, s.maxLength)}${s.minLength !== undefined || s.maxLength !== undefined ? ' characters' : ''}`
  return 'a valid value (see .env.example)'
}

/**
 * Validates the environment against the schema, reporting every problem at once. Numbers are converted from
 * strings, defaults applied, yes/no settings become booleans; then the settings' rules run.
 */
export function loadConfig<P extends TProperties>(schema: TObject<P>, env: Record<string, string | undefined>): StaticDecode<TObject<P>> {
  const input: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key]
    if (raw !== undefined && raw !== '') input[key] = raw
  }
  const converted = Value.Convert(schema, Value.Default(schema, input)) as Record<string, unknown>
  // One line per setting: its name, the value given (unless it may be a secret) and what it accepts.
  const problems: string[] = []
  for (const [key, setting] of Object.entries(schema.properties) as [string, TSchema][]) {
    const value = converted[key]
    if (value === undefined ? ((schema.required ?? []) as string[]).includes(key) : !Value.Check(setting, value)) problems.push(settingProblem(key, env[key], setting))
  }
  // Setting by setting, so the rules see decoded values even when another setting is invalid (already a problem).
  const config: Record<string, unknown> = {}
  for (const [key, setting] of Object.entries(schema.properties) as [string, TSchema][]) {
    const value = converted[key]
    config[key] = value !== undefined && Value.Check(setting, value) ? Value.Decode(setting, value) : value
  }
  for (const setting of Object.values(schema.properties) as (TSchema & { [ruleKey]?: SettingRule })[]) {
    problems.push(...(setting[ruleKey]?.(config) ?? []))
  }
  if (problems.length) throw new ConfigError(problems)
  return config as StaticDecode<TObject<P>>
}

/**
 * For a process's entry point: the loaded configuration, or — when settings are wrong — one JSON log line naming
 * each of them with what it accepts, and exit code 1 (no stack trace: nothing in the code is wrong).
 */
export function configOrExit<T>(service: string, load: () => T): T {
  try {
    return load()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    createLogger(service).fatal({ problems: error.problems }, `invalid configuration: ${error.problems.join('; ')}. Every setting is in .env.example.`)
    process.exit(1)
  }
}
