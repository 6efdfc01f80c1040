// The running stack as the bench sees it: service URLs and health, the bench's customers and tokens, and waiting
// for the bench's sagas to finish.
import { randomUUID } from 'node:crypto'
import { testEnv, tokenFor } from '../../tests/support/env.ts'
import { log, sleep } from './progress.ts'
import { adminSql } from './pg.ts'

export { testEnv, tokenFor }

export const root = new URL('../../', import.meta.url).pathname
export type ServiceName = 'orders' | 'inventory' | 'payments' | 'relay'
export const services: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']
export const url = (s: ServiceName) => testEnv.urls[s]

/** Bench customers' ids start with this, so their orders can be told apart from anybody else's. */
export const BENCH_CUSTOMER_PREFIX = 'be4c'
export const benchCustomerId = () => `${BENCH_CUSTOMER_PREFIX}${randomUUID().slice(4)}`
/** The customer of rows the bench writes directly with SQL (and deletes afterwards). */
export const MARKER_CUSTOMER = 'be4c0000-0000-4000-8000-00000000c01d'

export const address = { streetAddress: '12 Test Street', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', phoneNumber: '+1 555 0100' }

export interface Customer {
  customerId: string
  authorization: string
}

/** Customers with their own tokens: the rate limit is per subject, as it is for real clients. */
export async function customers(n: number): Promise<Customer[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const customerId = benchCustomerId()
      return { customerId, authorization: `Bearer ${await tokenFor('customer', customerId)}` }
    }),
  )
}

/** Operator tokens with distinct subjects, for reads at rates above one client's limit. */
export async function operatorTokens(n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => `Bearer ${await tokenFor('operator', randomUUID())}`))
}

export async function adminToken() {
  return `Bearer ${await tokenFor('admin')}`
}

export async function getJson<T = unknown>(target: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(target, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  let body: unknown = text
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T }
}

/** Waits until every service answers its health endpoint with 200. */
export async function waitForServices(names: ServiceName[] = services, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs
  let announced = false
  for (;;) {
    const down: string[] = []
    for (const s of names) {
      const r = await getJson(`${url(s)}/actuator/health`).catch(() => ({ status: 0, body: null }))
      if (r.status !== 200) down.push(`${s} (${r.status || 'no answer'})`)
    }
    if (down.length === 0) return
    if (Date.now() > deadline) throw new Error(`services not healthy after ${timeoutMs / 1000} s: ${down.join(', ')}`)
    if (!announced) log(`waiting for services to answer: ${down.join(', ')}`)
    announced = true
    await sleep(2_000)
  }
}

/**
 * Waits until the sagas of the bench's customers (started in the last 15 minutes) stop running, so one phase's
 * backlog does not load the next; gives up when the count stops falling for 15 s or after `timeoutMs`.
 */
export async function drainBenchSagas(timeoutMs = 120_000, onWait?: (open: number, waitedS: number) => void): Promise<{ open: number; seconds: number }> {
  const started = Date.now()
  let best = Infinity
  let bestAt = Date.now()
  for (;;) {
    const rows = await adminSql(
      'trackops_orders',
      `SELECT count(*)::int AS n FROM saga_instances WHERE status IN ('RUNNING', 'COMPENSATING') AND customer_id::text LIKE $1 AND created_at > now() - interval '15 minutes'`,
      [`${BENCH_CUSTOMER_PREFIX}%`],
    )
    const open = rows[0]?.n as number
    const seconds = (Date.now() - started) / 1000
    if (open === 0 || Date.now() - started > timeoutMs) return { open, seconds }
    if (open < best) {
      best = open
      bestAt = Date.now()
    } else if (Date.now() - bestAt > 15_000) return { open, seconds }
    onWait?.(open, seconds)
    await sleep(500)
  }
}
