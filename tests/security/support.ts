// Helpers for the security tests: raw HTTP calls (status, headers, text; SSE answers are cut after the headers),
// tokens of every kind the verifier must refuse, and throwaway fixtures made through the public APIs.
import { randomUUID } from 'node:crypto'
import { signToken, type Role } from '@trackops/http'
import { testEnv } from '../support/env.ts'
import { eventually, type Service } from '../support/stack.ts'

export type { Service }
export const jwt = testEnv.jwt

export interface Raw {
  status: number
  headers: Headers
  text: string
  /** Parsed JSON when the answer was JSON, else undefined. */
  body: any
  /** The answer was an event stream (cut after its headers). */
  stream: boolean
}

const connectionErrors = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const isConnectionError = (error: unknown) => {
  const cause = (error as { cause?: { code?: string } }).cause
  return error instanceof TypeError && cause?.code !== undefined && connectionErrors.has(cause.code)
}

/**
 * One HTTP call with a bearer token (or a raw Authorization header), JSON or raw body, extra headers. Other people
 * restart the services while these tests run: a refused or reset connection is retried for up to 45 s.
 */
export async function send(
  service: Service,
  method: string,
  path: string,
  opts: { token?: string; authorization?: string; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Raw> {
  const deadline = Date.now() + 45_000
  for (;;) {
    try {
      return await sendOnce(service, method, path, opts)
    } catch (error) {
      if (!isConnectionError(error) || Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

async function sendOnce(
  service: Service,
  method: string,
  path: string,
  opts: { token?: string; authorization?: string; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Raw> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.authorization !== undefined) headers.authorization = opts.authorization
  let body: string | undefined
  if (opts.rawBody !== undefined) body = opts.rawBody
  else if (opts.body !== undefined) body = JSON.stringify(opts.body)
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? 15_000)
  try {
    const res = await fetch(`${testEnv.urls[service]}${path}`, { method, headers, body, redirect: 'manual', signal: abort.signal })
    if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      abort.abort()
      return { status: res.status, headers: res.headers, text: '', body: undefined, stream: true }
    }
    const text = await res.text()
    let parsed: unknown
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
    }
    return { status: res.status, headers: res.headers, text, body: parsed, stream: false }
  } finally {
    clearTimeout(timer)
  }
}

// --- tokens -------------------------------------------------------------------------------------------------------

export const token = (roles: Role[], sub: string, opts: { expiresInSeconds?: number; notBefore?: number } = {}) => signToken({ ...jwt, sub, roles, ...opts })

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Every way a bearer token must be refused with 401. Each would carry the admin role if it were accepted. */
export async function refusedTokens(sub: string): Promise<Record<string, string | undefined>> {
  const now = Math.floor(Date.now() / 1000)
  return {
    'no token': undefined,
    'an expired token (beyond the 30 s skew)': await token(['admin'], sub, { expiresInSeconds: -120 }),
    'a token signed with another secret': await signToken({ ...jwt, secret: 'another-secret-of-more-than-32-characters-0001', sub, roles: ['admin'] }),
    'a token for another audience': await signToken({ ...jwt, audience: 'some-other-api', sub, roles: ['admin'] }),
    'a token from another issuer': await signToken({ ...jwt, issuer: 'someone-else', sub, roles: ['admin'] }),
    'a token not valid yet (nbf beyond the skew)': await token(['admin'], sub, { notBefore: now + 600 }),
    'an unsigned token (alg none)': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub, roles: ['admin'], iss: jwt.issuer, aud: jwt.audience, exp: now + 3600 })}.`,
  }
}

// --- fixtures -----------------------------------------------------------------------------------------------------

export const address = { streetAddress: '1 Fixture Road', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', phoneNumber: '+1 555 0199' }

/** Makes fixtures as an admin of its own, so the rate limits of the subjects under test are not spent on them. */
export function fixtures(label: string) {
  const sub = `security-${label}-${randomUUID().slice(0, 8)}`
  let adminToken: Promise<string> | undefined
  const admin = () => (adminToken ??= token(['admin'], sub))

  async function newProduct(stock = 1_000_000, price = 1): Promise<string> {
    const productId = `SEC-${randomUUID().slice(0, 12)}`
    const res = await send('inventory', 'POST', '/api/inventory/items', {
      token: await admin(),
      body: { productId, productName: `Security fixture ${productId}`, availableQuantity: stock, unitPrice: price, category: 'SECURITY-TEST' },
    })
    if (res.status !== 201) throw new Error(`creating ${productId}: ${res.status} ${res.text}`)
    return productId
  }

  /** An order of `customerId` (placed by the fixture admin); waits while the product is not in the catalogue replica. */
  async function newOrder(customerId: string, productId: string, extra: Record<string, unknown> = {}): Promise<{ id: string; [k: string]: any }> {
    const body = { customerId, address, items: [{ productId, quantity: 1 }], ...extra }
    return eventually(async () => {
      const res = await send('orders', 'POST', '/api/orders', { token: await admin(), body })
      if (res.status === 201) return res.body
      if (res.status === 422) return undefined // not in the orders' catalogue replica yet
      throw new Error(`POST /api/orders: ${res.status} ${res.text}`)
    }, 30_000, `product ${productId} in the orders catalogue replica`)
  }

  async function sagaOf(orderId: string): Promise<string> {
    const res = await send('orders', 'GET', `/api/sagas/order/${orderId}`, { token: await admin() })
    if (res.status !== 200) throw new Error(`GET /api/sagas/order/${orderId}: ${res.status} ${res.text}`)
    return res.body.id
  }

  return { sub, admin, newProduct, newOrder, sagaOf }
}
