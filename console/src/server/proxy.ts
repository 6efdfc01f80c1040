// Pass-through to the services. The console does not check tokens on proxied paths: the service behind
// decides (roles, ownership, rate limits), so the UI shows exactly the answer the API gives. Bodies and
// responses are streamed, never buffered, so Server-Sent Events flow through as they are written.
import http from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type App } from '@trackops/http'

export interface Upstream {
  /** Service name, used in errors: "orders service unavailable". */
  name: string
  /** Base URL, e.g. http://127.0.0.1:8081 */
  url: string
  /** Path prefixes served by it; each matches the prefix itself and everything below it. */
  prefixes: string[]
}

const FORWARDED_REQUEST_HEADERS = [
  'authorization', 'content-type', 'content-length', 'accept', 'accept-language', 'last-event-id', 'cache-control',
  'if-match', 'if-none-match', 'idempotency-key', 'x-api-key', 'traceparent', 'tracestate', 'user-agent',
]
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer'])
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
// HEAD comes with GET (Fastify exposes HEAD routes for GET ones).
const ANSWER_TIMEOUT_MS = 30_000
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

function requestHeaders(req: FastifyRequest): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {}
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name]
    if (value !== undefined) out[name] = value
  }
  out['x-correlation-id'] = req.id
  out['x-forwarded-for'] = req.ip
  out['x-forwarded-proto'] = req.protocol
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host
  return out
}

function responseHeaders(res: http.IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
  }
  return out
}

function upstreamError(up: Upstream, error: NodeJS.ErrnoException): AppError {
  const refused = ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ECONNRESET'].includes(error.code ?? '')
  const what = refused ? `no answer at ${up.url} (${error.code})` : error.message
  return new AppError(
    refused ? `${up.name}.unavailable` : `${up.name}.bad-gateway`,
    `${up.name} service unavailable: ${what}. Check it with \`bash infra/stack.sh status\`; start it with \`bash scripts/services.sh start ${up.name}\`.`,
    { cause: error, ...(refused ? {} : { status: 502 }), headers: { 'retry-after': '5' } },
  )
}

function forward(up: Upstream, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const target = new URL(req.url, up.url)
  return new Promise((resolve, reject) => {
    const outgoing = http.request(target, { method: req.method, headers: requestHeaders(req), agent })
    let answered = false
    outgoing.setTimeout(ANSWER_TIMEOUT_MS, () => {
      if (!answered) outgoing.destroy(Object.assign(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }))
    })
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered) reject(upstreamError(up, error))
    })
    outgoing.on('response', (res) => {
      answered = true
      outgoing.setTimeout(0)
      const headers = responseHeaders(res)
      const status = res.statusCode ?? 502
      // The browser went away: stop the upstream request (an SSE stream would otherwise stay open).
      reply.raw.on('close', () => {
        if (!res.complete) outgoing.destroy()
      })
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        // Events must reach the browser as they are written: take the socket over and flush the head now.
        reply.hijack()
        reply.raw.writeHead(status, { ...headers, 'x-correlation-id': req.id, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
        reply.raw.flushHeaders()
        res.pipe(reply.raw)
        res.on('error', () => reply.raw.destroy())
        resolve(reply)
        return
      }
      res.on('error', () => reply.raw.destroy())
      resolve(reply.code(status).headers(headers).send(res))
    })
    // The body was left unread by the catch-all parser: stream it straight through.
    req.raw.pipe(outgoing)
  })
}

export async function registerProxy(app: App, upstreams: Upstream[]) {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null))
    for (const up of upstreams) {
      for (const prefix of up.prefixes) {
        const route = {
          method: [...METHODS],
          config: { auth: 'public' as const, rateClass: 'exempt' as const },
          schema: { hide: true },
          handler: (req: FastifyRequest, reply: FastifyReply) => forward(up, req, reply),
        }
        scope.route({ ...route, url: prefix })
        scope.route({ ...route, url: `${prefix}/*` })
      }
    }
  })
}
