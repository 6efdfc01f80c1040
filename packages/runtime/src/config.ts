// Settings come from the environment only, validated once in main.ts. Each package declares the settings it
// reads as a property set; a service composes the sets it uses with its own:
//   loadConfig(Type.Object({ ...runtimeSettings, ...httpSettings, ...messagingSettings, OWN_SETTING: Type... }), env)
import { Type, type StaticDecode, type TObject, type TProperties, type TSchema } from 'typebox'
import { Value } from 'typebox/value'

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
  const problems = [...Value.Errors(schema, converted)].map((e) => `${e.instancePath.slice(1) || '(root)'}: ${e.message}`)
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
