// Secrets come from the environment only and never leak: a service refuses to start without a real JWT secret
// (unless local development mode was chosen explicitly), and neither the logs of the running services nor the Kafka
// topics carry tokens, the secret, or a customer's address and phone number.
import { randomUUID } from 'node:crypto'
import { spawn } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CdcTopics, Topics } from '@trackops/contracts'
import { DEV_JWT_SECRET } from '@trackops/http'
import { collect } from '../../packages/messaging/test/support.ts'
import { testEnv } from '../support/env.ts'
import { eventually, freePort, waitForStatus } from '../support/stack.ts'
import { fixtures, refusedTokens, send, token } from './support.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/**
 * Starts the payment service with exactly this environment (nothing inherited; node reads .env only with
 * --env-file). Kafka points nowhere, so the spare copy never joins the real consumer group; Redis is not used.
 */
function startPayments(port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ['services/payments/src/main.ts'], {
    cwd: repo,
    env: {
      HOST: '127.0.0.1',
      PAYMENTS_PORT: String(port),
      PAYMENTS_DATABASE_URL: testEnv.paymentsDb,
      KAFKA_BROKERS: '127.0.0.1:1',
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })))
  return { child, exited, output: () => output, url: `http://127.0.0.1:${port}` }
}

/** Waits for the process to exit on its own (it must, within the timeout); kills it otherwise. */
async function exitOf(env: Record<string, string>, timeoutMs = 20_000): Promise<Exit> {
  const started = startPayments(await freePort(), env)
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs)
  const exit = await started.exited
  clearTimeout(timer)
  return exit
}

describe('a service refuses to start without a real JWT secret', () => {
  it('when neither TRACKOPS_DEV_MODE nor JWT_SECRET is set, then it exits non-zero naming JWT_SECRET', async () => {
    const exit = await exitOf({})
    expect(exit.signal, exit.output).toBeNull()
    expect(exit.code, exit.output).not.toBe(0)
    expect(exit.output).toContain('JWT_SECRET')
  })

  for (const [what, secret] of [
    ['the placeholder "change-me"', 'change-me'],
    ['a long placeholder', 'change-me-to-something-random-please-0001'],
    ['a secret shorter than 32 characters', 'tooShort-0123456789'],
    ['the published development secret', DEV_JWT_SECRET],
  ] as const) {
    it(`when JWT_SECRET is ${what} (and not in dev mode), then it exits non-zero naming JWT_SECRET without printing the value`, async () => {
      const exit = await exitOf({ JWT_SECRET: secret })
      expect(exit.signal, exit.output).toBeNull()
      expect(exit.code, exit.output).not.toBe(0)
      expect(exit.output).toContain('JWT_SECRET')
      expect(exit.output).not.toContain(secret)
    })
  }

  it('when TRACKOPS_DEV_MODE=true is set explicitly, then it starts with the development secret (and stops on SIGTERM)', async () => {
    const started = startPayments(await freePort(), { TRACKOPS_DEV_MODE: 'true' })
    try {
      const early = await Promise.race([
        started.exited,
        eventually(async () => (await fetch(`${started.url}/actuator/health/liveness`)).ok, 30_000, 'the spare payment service to answer'),
      ])
      expect(early, started.output()).toBe(true)
      // The development secret is the one it verifies with: a dev token works, a token with another secret does not.
      const dev = await fetch(`${started.url}/api/payments?size=1`, { headers: { authorization: `Bearer ${await token(['operator'], 'security-secrets-operator')}` } })
      expect(dev.status).toBe(200)
      const forged = (await refusedTokens('security-secrets-admin'))['a token signed with another secret']
      const other = await fetch(`${started.url}/api/payments?size=1`, { headers: { authorization: `Bearer ${forged}` } })
      expect(other.status).toBe(401)
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGTERM')
      const timer = setTimeout(() => started.child.kill('SIGKILL'), 15_000)
      await started.exited
      clearTimeout(timer)
    }
    expect(started.output()).not.toContain(DEV_JWT_SECRET)
  })
})

describe('no secret or personal data in the logs and on the wire', () => {
  const street = `4711 Secretive Lane ${randomUUID().slice(0, 4)}`
  const phone = `+1 555 4711 ${String(Math.floor(Math.random() * 9000) + 1000)}`
  const paymentToken = `tok_secret_${randomUUID().replace(/-/g, '')}`
  const customerId = randomUUID()
  const make = fixtures('secrets')
  let orderId: string
  let customerToken: string
  let wire: Awaited<ReturnType<typeof collect>>

  beforeAll(async () => {
    customerToken = await token(['customer'], customerId)
    const productId = await make.newProduct(1000, 5)
    await make.newOrder(randomUUID(), productId) // waits for the product in the orders catalogue replica
    const res = await send('orders', 'POST', '/api/orders', {
      token: customerToken,
      body: {
        customerId,
        address: { streetAddress: street, city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', phoneNumber: phone },
        deliveryInstructions: 'Leave at the door',
        items: [{ productId, quantity: 1 }],
        paymentMethod: { token: paymentToken, type: 'card' },
      },
    })
    if (res.status !== 201) throw new Error(`placing the order: ${res.status} ${res.text}`)
    orderId = res.body.id
    // Calls that could leak a token into a log: a refused token, a token in the query string, a valid one.
    for (const bad of Object.values(await refusedTokens(customerId))) await send('orders', 'GET', `/api/orders/${orderId}`, { token: bad })
    await send('orders', 'GET', `/api/orders/${orderId}?access_token=${customerToken}`)
    await send('orders', 'GET', `/api/orders/${orderId}`, { token: customerToken })
    const final = await waitForStatus(orderId, ['CONFIRMED', 'CANCELLED'])
    // Everything about this order on the raw CDC topic and the business event topic (read from the start, by key),
    // up to the records of its final status: those carry the order as it ends, so all of it has been seen.
    wire = await collect([CdcTopics.orders, Topics.orderEvents], (r) => r.key.includes(orderId))
    const cdcStatus = (r: { value: string }) => {
      const v = JSON.parse(r.value) as { after?: { status?: string }; payload?: { after?: { status?: string } } }
      return (v.after ?? v.payload?.after)?.status
    }
    await eventually(
      () =>
        wire.seen.some((r) => r.topic === CdcTopics.orders && cdcStatus(r) === final) &&
        wire.seen.some((r) => r.topic === Topics.orderEvents && r.headers.type === 'ORDER_CREATED') &&
        wire.seen.some((r) => r.topic === Topics.orderEvents && r.headers.type === 'ORDER_STATUS_UPDATED' && (JSON.parse(r.value) as { data?: { newStatus?: string } }).data?.newStatus === final),
      60_000,
      `the order, ${final}, on trackops_orders.public.orders and orders.events`,
    )
  }, 180_000)

  afterAll(async () => {
    await wire?.close()
  })

  const serviceLogs = async () => {
    const dir = `${repo}/.stack/logs`
    const names = (await readdir(dir)).filter((f) => /^(orders|inventory|payments|relay|console)\.log$/.test(f))
    return Promise.all(names.map(async (name) => ({ name, text: await readFile(`${dir}/${name}`, 'utf8') })))
  }

  it('when the logs of the running services are read, then they show the order was logged (the grep means something)', async () => {
    // Log lines are written as the services get to them: wait for the order's, not for a fixed time.
    const orders = await eventually(async () => (await serviceLogs()).find((l) => l.name === 'orders.log' && l.text.includes(orderId)), 30_000, `order ${orderId} in orders.log`).catch(() => undefined)
    expect(orders?.text).toContain(orderId)
  })

  it('when the logs of the running services are grepped, then they contain no bearer token', async () => {
    for (const log of await serviceLogs()) {
      const found = log.text.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/)
      expect(found?.[0], `${log.name} contains a token`).toBeUndefined()
      expect(log.text.includes(customerToken), log.name).toBe(false)
    }
  })

  it('when the logs of the running services are grepped, then they contain no JWT secret', async () => {
    for (const log of await serviceLogs()) {
      expect(log.text.includes(testEnv.jwt.secret), log.name).toBe(false)
      expect(log.text.includes(DEV_JWT_SECRET), log.name).toBe(false)
    }
  })

  it("when the logs of the running services are grepped, then they contain neither the customer's street address, phone number nor payment token", async () => {
    for (const log of await serviceLogs()) {
      expect(log.text.includes(street), `${log.name}: street address`).toBe(false)
      expect(log.text.includes(phone), `${log.name}: phone number`).toBe(false)
      expect(log.text.includes(paymentToken), `${log.name}: payment token`).toBe(false)
      // …nor the test suite's shared address (tests/support/stack.ts), which every e2e order uses.
      expect(log.text.includes('12 Test Street'), `${log.name}: 12 Test Street`).toBe(false)
      expect(log.text.includes('+1 555 0100'), `${log.name}: +1 555 0100`).toBe(false)
    }
  })

  it('when the raw CDC topic of orders is read, then its records of the order carry no street address, phone number or payment token', () => {
    const cdc = wire.seen.filter((r) => r.topic === CdcTopics.orders)
    expect(cdc.length).toBeGreaterThan(0)
    for (const r of cdc) {
      expect(JSON.parse(r.key)).toEqual({ id: orderId })
      for (const secret of [street, phone, paymentToken]) expect(r.value).not.toContain(secret)
      const after = JSON.parse(r.value).after ?? JSON.parse(r.value).payload?.after
      if (after) {
        expect(after).not.toHaveProperty('street_address')
        expect(after).not.toHaveProperty('phone_number')
        expect(after).not.toHaveProperty('payment_token')
      }
    }
  })

  it('when orders.events is read, then the events of the order carry no street address, phone number or payment token', () => {
    const events = wire.seen.filter((r) => r.topic === Topics.orderEvents)
    expect(events.map((r) => r.headers.type)).toContain('ORDER_CREATED')
    for (const r of events) {
      for (const secret of [street, phone, paymentToken]) expect(r.value, r.headers.type).not.toContain(secret)
    }
  })
})
