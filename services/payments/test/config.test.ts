// The payment settings that choose what is charged and where: no sandbox value is a default.
import { describe, expect, it } from 'vitest'
import { ConfigError } from '@trackops/runtime'
import { loadPaymentsConfig } from '../src/config.ts'

const env = { PAYMENTS_DATABASE_URL: 'postgres://payments@127.0.0.1/payments', TRACKOPS_DEV_MODE: 'true' }

describe('payments configuration', () => {
  it('when nothing is set, then the gateway is the sandbox and there is no default payment token', () => {
    const config = loadPaymentsConfig(env)
    expect(config.PAYMENTS_GATEWAY).toBe('sandbox')
    expect(config.PAYMENTS_DEFAULT_PAYMENT_TOKEN).toBeUndefined()
  })

  it('when PAYMENTS_GATEWAY names an unknown gateway, then loading fails and the error lists the choices', () => {
    expect(() => loadPaymentsConfig({ ...env, PAYMENTS_GATEWAY: 'stripe' })).toThrow(ConfigError)
    expect(() => loadPaymentsConfig({ ...env, PAYMENTS_GATEWAY: 'stripe' })).toThrow(/PAYMENTS_GATEWAY: "stripe" is not a payment gateway; choose one of: sandbox/)
  })

  it('when a default payment token is set, then it is loaded as given', () => {
    expect(loadPaymentsConfig({ ...env, PAYMENTS_DEFAULT_PAYMENT_TOKEN: 'tok_live_default' }).PAYMENTS_DEFAULT_PAYMENT_TOKEN).toBe('tok_live_default')
  })
})
