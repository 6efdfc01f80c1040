// Helpers for whole-system tests: HTTP calls to the running services, polling, and process control.
import { randomUUID } from 'node:crypto'
import { execFile, execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import { testEnv, tokenFor } from './env.ts'

const run = promisify(execFile)
export type Service = keyof typeof testEnv.urls

export interface Reply<T = any> {
  status: number
  body: T
  headers: Headers
}

export async function api<T = any>(service: Service, method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${testEnv.urls[service]}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) })
  const text = await res.text()
  let body: unknown = text
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T, headers: res.headers }
}

export async function eventually<T>(probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

// A subject of its own for every call: the running services rate-limit per subject and per window, and one
// subject shared by every helper call of every file (a poll loop, a burst of reads) would spend the budget of
// whichever test runs next in the same window and get it 429s.
export const admin = () => tokenFor('admin', `e2e-admin-${randomUUID()}`)
export const operator = () => tokenFor('operator', `e2e-operator-${randomUUID()}`)

/** A product of the test's own, created through the inventory API, and visible in the orders' catalogue replica. */
export async function createProduct(opts: { stock: number; price?: number; minStockLevel?: number }) {
  const productId = `E2E-${randomUUID().slice(0, 8)}`
  const res = await api('inventory', 'POST', '/api/inventory/items', {
    token: await admin(),
    body: { productId, productName: `Test product ${productId}`, availableQuantity: opts.stock, unitPrice: opts.price ?? 10, category: 'E2E', minStockLevel: opts.minStockLevel ?? 0 },
  })
  if (res.status !== 201) throw new Error(`creating ${productId}: ${res.status} ${JSON.stringify(res.body)}`)
  return productId
}

export const address = { streetAddress: '12 Test Street', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', phoneNumber: '+1 555 0100' }

/** Places an order as its customer; retries while the product has not reached the catalogue replica yet (CDC lag). */
export async function placeOrder(opts: { items: { productId: string; quantity: number }[]; token?: string; customerId?: string; correlationId?: string }) {
  const customerId = opts.customerId ?? randomUUID()
  const token = await tokenFor('customer', customerId)
  const headers: Record<string, string> = opts.correlationId ? { 'x-correlation-id': opts.correlationId } : {}
  const body = { customerId, address, items: opts.items, ...(opts.token ? { paymentMethod: { token: opts.token } } : {}) }
  return eventually(async () => {
    const res = await api('orders', 'POST', '/api/orders', { token, body, headers })
    if (res.status === 201) return { order: res.body, customerId, customerToken: token, postedAt: Date.now() }
    if (res.status === 422 && /unknown|not found|inactive/i.test(JSON.stringify(res.body))) return undefined
    throw new Error(`POST /api/orders: ${res.status} ${JSON.stringify(res.body)}`)
  }, 30_000, 'the product in the catalogue replica')
}

export async function orderStatus(orderId: string): Promise<string> {
  const res = await api('orders', 'GET', `/api/orders/${orderId}`, { token: await operator() })
  return res.body?.status
}

export async function waitForStatus(orderId: string, statuses: string[], timeoutMs = 60_000) {
  return eventually(async () => {
    const s = await orderStatus(orderId)
    return statuses.includes(s) ? s : undefined
  }, timeoutMs, `order ${orderId} to reach ${statuses.join('|')}`)
}

export async function item(productId: string) {
  return (await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: await operator() })).body
}

const handedOut = new Set<number>()
/** A port nobody listens on right now, for a process the test starts (fixed ports collide with leftovers and with each other). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
      })
    })
    if (handedOut.has(port)) continue
    handedOut.add(port)
    return port
  }
}

/** Stops a process the test started and waits until it is gone (SIGKILL after graceMs), so it frees its port and
 *  leaves its consumer groups before the next test file starts. */
export async function stopChild(child: ChildProcess | undefined, graceMs = 15_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  const force = setTimeout(() => child.kill('SIGKILL'), graceMs)
  child.kill('SIGTERM')
  await exited
  clearTimeout(force)
}

/** Every record a confirmed order's saga puts on the wire, in whatever order the topics deliver them. */
export const confirmedSagaTypes = ['ORDER_CREATED', 'RESERVE_INVENTORY', 'INVENTORY_RESERVED', 'PROCESS_PAYMENT', 'PAYMENT_PROCESSED', 'ORDER_STATUS_UPDATED', 'COMMIT_RESERVATION'] as const

/**
 * Switches the publishing strategy of the running stack (scripts/switch-strategy.sh: writers stop, the current
 * publisher drains, the other takes over, .env records it, writers start); a no-op when it is already in effect.
 */
export async function switchStrategy(strategy: 'outbox' | 'debezium') {
  await run('bash', ['scripts/switch-strategy.sh', strategy], { timeout: 240_000, env: { ...process.env, EVENT_PUBLISHING_STRATEGY: strategy } })
}

export const strategies = ['debezium', 'outbox'] as const

/**
 * Switches, then waits until one order goes through: right after a switch the restarted services are still
 * joining their consumer groups (seen: 23 s for the first saga), which belongs to the switch, not to a test.
 * Use as `beforeAll(() => publishedBy(strategy), 420_000)`.
 */
export async function publishedBy(strategy: (typeof strategies)[number]) {
  await switchStrategy(strategy)
  const productId = await createProduct({ stock: 1 })
  const { order } = await placeOrder({ items: [{ productId, quantity: 1 }] })
  await waitForStatus(order.id, ['CONFIRMED'], 180_000)
}

/** Runs scripts/services.sh (start|stop|restart) for the named services with extra environment. */
export async function services(command: 'start' | 'stop' | 'restart', names: string[], env: Record<string, string> = {}) {
  await run('bash', ['scripts/services.sh', command, ...names], { env: { ...process.env, ...env }, timeout: 180_000 })
}

export async function kill(name: string, signal: NodeJS.Signals = 'SIGKILL') {
  const { readFile } = await import('node:fs/promises')
  const pid = Number((await readFile(`.stack/run/${name}.pid`, 'utf8')).trim())
  process.kill(pid, signal)
  await eventually(() => {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  }, 10_000, `${name} to die`)
}

// --- dependencies stopped and started by outage tests --------------------------------------------------------------

const redisCli = (...args: string[]) => {
  try {
    return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}
export async function stopRedis() {
  redisCli('shutdown', 'nosave')
  await eventually(() => redisCli('ping') !== 'PONG', 10_000, 'Redis to stop')
}
export async function startRedis() {
  if (redisCli('ping') === 'PONG') return
  // The same memory bound stack.sh up gives Redis (infra/lib/redis.sh).
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log', '--maxmemory', '256mb', '--maxmemory-policy', 'volatile-lru'], { stdio: 'ignore' })
  await eventually(() => redisCli('ping') === 'PONG', 10_000, 'Redis to start')
}

/** Stops one JVM of the stack (kafka or connect) by its pid file; `bash infra/stack.sh up` starts it again. */
export async function stopJvm(name: 'kafka' | 'connect') {
  const { readFile } = await import('node:fs/promises')
  const pid = Number((await readFile(`.stack/run/${name}.pid`, 'utf8')).trim())
  process.kill(pid, 'SIGTERM')
  await eventually(() => {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  }, 60_000, `${name} to stop`)
}
export const stackUp = () => promisify(execFile)('bash', ['infra/stack.sh', 'up'], { timeout: 240_000 })
