import { describe, expect, it } from 'vitest'
import { Type } from 'typebox'
import { ConfigError, loadConfig } from '@trackops/runtime'
import { DEV_JWT_SECRET, httpSettings } from '../src/index.ts'

const schema = Type.Object(httpSettings)
const REAL_SECRET = 'k7Vq2mX9pLr4Tz8Wn3Bc6Yd1Hf5Jg0Ss'

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(schema, env)
    return []
  } catch (error) {
    return (error as ConfigError).problems
  }
}

describe('httpSettings', () => {
  it('when nothing is set but development mode, then the development secret is used and the flags are booleans', () => {
    expect(loadConfig(schema, { TRACKOPS_DEV_MODE: 'true' })).toMatchObject({
      TRACKOPS_DEV_MODE: true,
      JWT_SECRET: DEV_JWT_SECRET,
      METRICS_PUBLIC: true,
      RATE_LIMIT_ENABLED: true,
      HOST: '127.0.0.1',
    })
  })

  it('when neither a secret nor a JWKS URL is set outside development mode, then JWT_SECRET is named', () => {
    expect(problemsOf({})).toEqual(['JWT_SECRET (or JWT_JWKS_URL) is required; set TRACKOPS_DEV_MODE=true to use the local development secret'])
    expect(problemsOf({ TRACKOPS_DEV_MODE: 'false' })).toHaveLength(1)
    expect(loadConfig(schema, { JWT_JWKS_URL: 'https://issuer.example/jwks' }).JWT_SECRET).toBeUndefined()
  })

  it('when the secret is a placeholder, short or the development one outside development mode, then it is refused', () => {
    for (const secret of ['changeme-changeme-changeme-changeme', 'short', DEV_JWT_SECRET]) {
      expect(problemsOf({ JWT_SECRET: secret })).toEqual(['JWT_SECRET is a placeholder or shorter than 32 characters; generate one with `openssl rand -base64 48`'])
    }
    expect(loadConfig(schema, { JWT_SECRET: REAL_SECRET, METRICS_PUBLIC: 'false', RATE_LIMIT_ENABLED: 'false' })).toMatchObject({
      TRACKOPS_DEV_MODE: false,
      JWT_SECRET: REAL_SECRET,
      METRICS_PUBLIC: false,
      RATE_LIMIT_ENABLED: false,
    })
  })
})
