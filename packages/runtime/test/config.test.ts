import { describe, expect, it } from 'vitest'
import { Type } from 'typebox'
import { booleanSetting, ConfigError, loadConfig, withRule } from '../src/index.ts'

const schema = Type.Object({
  FEATURE: booleanSetting(true),
  PORT: Type.Integer({ minimum: 1, default: 8080 }),
  NAME: withRule(Type.Optional(Type.String()), (config) => {
    if (config.NAME === undefined && config.FEATURE === true) config.NAME = 'from the rule'
    return config.NAME === 'bad' ? ['NAME is bad'] : []
  }),
})

const problemsOf = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(schema, env)
    return []
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
}

describe('loadConfig', () => {
  it('when yes/no settings say true or false, then they load as booleans, and an unset one takes its default', () => {
    expect(loadConfig(schema, { FEATURE: 'false' }).FEATURE).toBe(false)
    expect(loadConfig(schema, { FEATURE: 'true' }).FEATURE).toBe(true)
    expect(loadConfig(schema, {})).toMatchObject({ FEATURE: true, PORT: 8080 })
    expect(loadConfig(schema, { FEATURE: '' }).FEATURE).toBe(true)
  })

  it('when a yes/no setting is anything but true or false, then it is a problem', () => {
    expect(problemsOf({ FEATURE: 'TRUE' })).toEqual(['FEATURE="TRUE" is not accepted: expected true or false'])
    expect(problemsOf({ FEATURE: '1' })).toEqual(['FEATURE="1" is not accepted: expected true or false'])
  })

  it('when numbers arrive as text, then they are converted and checked', () => {
    expect(loadConfig(schema, { PORT: '9000' }).PORT).toBe(9000)
    expect(problemsOf({ PORT: '0' })).toEqual(['PORT="0" is not accepted: expected a whole number of at least 1'])
  })

  it("when a setting has a rule, then it sees the others decoded, may fill its setting in, and its problems come with the schema's", () => {
    expect(loadConfig(schema, {}).NAME).toBe('from the rule')
    expect(loadConfig(schema, { FEATURE: 'false' }).NAME).toBeUndefined()
    expect(problemsOf({ NAME: 'bad', PORT: 'x' })).toEqual(['PORT="x" is not accepted: expected a whole number of at least 1', 'NAME is bad'])
  })

  it('when settings are wrong, then each is one line naming it, the value given (never one that may be a secret) and what it accepts', () => {
    const strict = Type.Object({
      DATABASE_URL: Type.String({ minLength: 1 }),
      LEVEL: Type.Enum(['info', 'debug'], { default: 'info' }),
      API_TOKEN: Type.Optional(Type.String({ minLength: 20, maxLength: 200 })),
      RATE: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
    })
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(strict, env)
        return []
      } catch (error) {
        return (error as ConfigError).problems
      }
    }
    expect(problems({ LEVEL: 'loud', API_TOKEN: 'short-secret', RATE: '2' })).toEqual([
      'DATABASE_URL is required (not set): expected non-empty text',
      'LEVEL="loud" is not accepted: expected info or debug',
      'API_TOKEN=its value is not accepted: expected text from 20 to 200 characters',
      'RATE="2" is not accepted: expected a number from 0 to 1',
    ])
  })
})
