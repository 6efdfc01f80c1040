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
    expect(problemsOf({ FEATURE: 'TRUE' })).toContain('FEATURE: must match a schema in anyOf')
    expect(problemsOf({ FEATURE: '1' })).toContain('FEATURE: must match a schema in anyOf')
  })

  it('when numbers arrive as text, then they are converted and checked', () => {
    expect(loadConfig(schema, { PORT: '9000' }).PORT).toBe(9000)
    expect(problemsOf({ PORT: '0' })).toEqual(['PORT: must be >= 1'])
  })

  it("when a setting has a rule, then it sees the others decoded, may fill its setting in, and its problems come with the schema's", () => {
    expect(loadConfig(schema, {}).NAME).toBe('from the rule')
    expect(loadConfig(schema, { FEATURE: 'false' }).NAME).toBeUndefined()
    expect(problemsOf({ NAME: 'bad', PORT: 'x' })).toEqual(['PORT: must be integer', 'NAME is bad'])
  })
})
