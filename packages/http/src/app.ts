// Fastify bootstrap shared by every service: problem+json errors, correlation ids, JWT auth with roles,
// Redis rate limiting, RED metrics, health, OpenAPI 3.1 at /docs, and `GET /`.
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyError } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import client from 'prom-client'
import type { Logger } from 'pino'
import { AppError, problem } from './errors.ts'
import { swaggerOptions } from './openapi.ts'
import { findNul, nonFiniteField, withNumberBounds } from './input-limits.ts'
import { validationErrors } from './validation-errors.ts'
import type { Principal, Role, Verifier } from './auth.ts'
import type { RateDecision, RouteClass } from './rate-limit.ts'
import { context } from '@opentelemetry/api'
import { dataExceptionMessage, dataExceptionOf, initTracing, isInfrastructureError, serverSpan, statusesOf, type Health, type OpenSpan } from '@trackops/runtime'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
    span?: OpenSpan
  }
  interface FastifyContextConfig {
    /** 'public' needs no token; otherwise the roles allowed (any of them). Default: any authenticated role. */
    auth?: 'public' | Role[]
    /** Rate-limit class; health/metrics/docs are exempt. Default: read for GET/HEAD, write otherwise. */
    rateClass?: RouteClass | 'exempt'
    /** The problem a request that fails this route's schema answers with. Default: `request.validation`. */
    validation?: { code: string; message: string }
  }
}

export interface AppOptions {
  name: string
  title: string
  description: string
  version?: string
  logger: Logger
  health: Health
  /** Required: every route that is not 'public' needs a verified identity. There is no "auth off". */
  verify: Verifier
  rateLimit?: (clientId: string, routeClass: RouteClass) => Promise<RateDecision | null>
  metricsPublic?: boolean
  bodyLimit?: number
  /** OTLP/HTTP endpoint; without it trace context still propagates but nothing is recorded. */
  otlpEndpoint?: string
  /** What each OpenAPI tag the service's routes use stands for. */
  tags?: Record<string, string>
}

const CORRELATION = /^[\w.:-]{1,128}$/
const MAX_PARAM_LENGTH = 200
const httpDuration =
  (client.register.getSingleMetric('http_server_request_duration_seconds') as client.Histogram | undefined) ??
  new client.Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP request duration by method, templated route and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  })

let defaultMetricsStarted = false

export interface RegisteredRoute { method: string; url: string; hidden: boolean }
const registeredRoutes = new WeakMap<object, RegisteredRoute[]>()

/** Every route an app registered (HEAD included; `hidden` ones are left out of its OpenAPI document). */
export const routesOf = (app: object): readonly RegisteredRoute[] => registeredRoutes.get(app) ?? []

export async function createApp(opts: AppOptions) {
  // Fail closed: an app wired without a verifier would serve every protected route to anyone.
  if (typeof opts.verify !== 'function') throw new Error(`createApp(${opts.name}): a token verifier (verify) is required`)
  initTracing(opts.name, opts.otlpEndpoint)
  if (!defaultMetricsStarted) {
    client.collectDefaultMetrics()
    defaultMetricsStarted = true
  }
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'correlationId' }),
    genReqId: (req) => {
      const given = req.headers['x-correlation-id']
      return typeof given === 'string' && CORRELATION.test(given) ? given : randomUUID()
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // What the router refuses before any route or hook runs (malformed %-encoding, a path parameter over
    // maxParamLength) is problem+json like every other error, and does not repeat the path.
    frameworkErrors: (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      const p =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? problem(414, 'request.uri-too-long', `A path segment is longer than ${MAX_PARAM_LENGTH} characters.`)
        : error.code === 'FST_ERR_BAD_URL' ? problem(400, 'request.bad-request', 'The request path is not valid (malformed percent-encoding).')
        : problem(500, 'internal.error', 'An unexpected error occurred; it has been logged with this correlation id.')
      if (p.status >= 500) req.log.error({ err: error }, 'router error')
      return reply.code(p.status).header('x-correlation-id', req.id).type('application/problem+json').send({ ...p, correlationId: req.id })
    },
    // What Node's HTTP parser refuses (a NUL or line break in a header, headers over 16 KiB, malformed HTTP)
    // never reaches Fastify's handlers: answered here, also as problem+json, and the connection is closed.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return
      const p =
        error.code === 'HPE_HEADER_OVERFLOW' ? problem(431, 'request.headers-too-large', 'The request headers are too large.')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? problem(408, 'request.timeout', 'The request did not arrive in time.')
        : problem(400, 'request.bad-request', 'The request is not valid HTTP.')
      const body = JSON.stringify(p)
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${p.status} ${p.title}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      }
      socket.destroy(error)
    },
  }).withTypeProvider<TypeBoxTypeProvider>()
  // JSON only: a text/plain body is 415, not parsed.
  app.removeContentTypeParser('text/plain')

  // Bodies: unknown fields dropped, nothing coerced (a null stays null). Query strings, params and headers
  // arrive as text: coerced to the schema's types, and nothing removed (headers keep Authorization).
  // strictNumbers: `page=Infinity` or `1e309` coerces to Infinity, which is no number a column can hold.
  // verbose: each error carries the schema it failed, so its `errorMessage` can be the message (validationErrors).
  // multipleOfPrecision: 10.01 is a multiple of 0.01 although 10.01 / 0.01 is 1000.9999999999999 in floating point.
  const common = { useDefaults: true, allErrors: true, strict: false, strictNumbers: true, verbose: true, multipleOfPrecision: 6 } as const
  const bodyAjv = new Ajv({ ...common, removeAdditional: 'all', coerceTypes: false })
  const partsAjv = new Ajv({ ...common, removeAdditional: false, coerceTypes: 'array' })
  for (const ajv of [bodyAjv, partsAjv]) addFormats.default(ajv)
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body') return bodyAjv.compile(schema)
    const validate = partsAjv.compile(schema)
    const checked = Object.assign((data: unknown) => {
      if (!validate(data)) return ((checked.errors = validate.errors ?? null), false)
      const field = nonFiniteField(data)
      checked.errors = field === null ? null : [{ instancePath: `/${field}`, schemaPath: '#/type', keyword: 'type', params: {}, message: 'must be a finite number' }]
      return field === null
    }, { errors: null as ErrorObject[] | null })
    return checked
  })

  // Every number a request schema leaves unbounded gets the int4 range, before validation and the OpenAPI
  // document read the schema, so `page=99999999999999999999999` is a 400 that /docs announces, not a 500 in SQL.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as Record<string, unknown> | undefined
    if (!schema) return
    let bounded: Record<string, unknown> | null = null
    for (const part of ['body', 'querystring', 'query', 'params', 'headers']) {
      const before = schema[part]
      const after = withNumberBounds(before)
      if (after !== before) (bounded ??= { ...schema })[part] = after
    }
    if (bounded) route.schema = bounded
  })

  // Every route's path and methods, so that a known path asked with another method is a 405, not a 404.
  const routes: (RegisteredRoute & { pattern: RegExp })[] = []
  registeredRoutes.set(app, routes)
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}/?$`)
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
    for (const m of ([] as string[]).concat(route.method)) routes.push({ method: m, url: route.url, hidden, pattern })
  })

  await app.register(swagger, swaggerOptions({
    title: opts.title,
    description: opts.description,
    version: opts.version ?? '0.1.0',
    rateLimited: opts.rateLimit !== undefined,
    ...(opts.tags ? { tags: opts.tags } : {}),
  }))
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })

  // The request's span is current for the whole request, so outbox rows written by the handler carry its trace.
  // The hooks are named functions: with tracing on, each is a span named after it (Fastify's instrumentation).
  app.addHook('onRequest', function correlate(req, reply, done) {
    reply.header('x-correlation-id', req.id)
    reply.header('x-content-type-options', 'nosniff')
    req.span = serverSpan(`${req.method} ${req.routeOptions.url ?? 'unmatched'}`, req.headers as Record<string, string>)
    req.span.span.setAttribute('trackops.correlation_id', req.id)
    context.with(req.span.ctx, done)
  })

  // Authentication and rate limiting run before validation: a request without a valid token learns nothing
  // about the schema, and header schemas cannot hide the Authorization header.
  app.addHook('onRequest', async function authenticate(req, reply) {
    const url = req.routeOptions.url
    if (url === undefined) return // the not-found handler: nothing to protect
    const config = req.routeOptions.config
    const rateClass = config.rateClass ?? (url.startsWith('/actuator') || url.startsWith('/docs') || url === '/' ? 'exempt' : req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write')
    const limit = async (clientId: string) => {
      if (rateClass === 'exempt' || !opts.rateLimit) return
      const decision = await opts.rateLimit(clientId, rateClass)
      if (!decision) return
      reply.header('x-ratelimit-limit', decision.limit)
      reply.header('x-ratelimit-remaining', decision.remaining)
      reply.header('x-ratelimit-reset', decision.resetEpochSeconds)
      if (!decision.allowed) {
        throw new AppError('request.rate-limited', `Too many requests: ${decision.limit} ${rateClass} requests per window. Retry after ${decision.retryAfterSeconds} s.`, {
          headers: { 'retry-after': String(decision.retryAfterSeconds) },
        })
      }
    }
    const apiKey = req.headers['x-api-key']
    const anonymous = typeof apiKey === 'string' && apiKey ? `key:${apiKey.slice(0, 64)}` : `ip:${req.ip}`
    const isPublic = config.auth === 'public' || url.startsWith('/docs') || (url === '/actuator/prometheus' && opts.metricsPublic !== false)
    if (!isPublic) {
      try {
        req.principal = await opts.verify(req.headers.authorization)
      } catch (error) {
        await limit(anonymous) // failed attempts count against the caller's address, so guessing is limited too
        throw error
      }
      if (req.principal.roles.length === 0) throw new AppError('auth.forbidden', 'The token carries no TrackOps role.')
      const allowed = Array.isArray(config.auth) ? config.auth : null
      if (allowed && !req.principal.roles.some((r) => allowed.includes(r))) {
        throw new AppError('auth.forbidden', `This action needs one of the roles: ${allowed.join(', ')}.`)
      }
    }
    await limit(req.principal ? `sub:${req.principal.sub}` : anonymous)
  })

  // No text may carry U+0000: PostgreSQL cannot store it, so it would fail in SQL. Checked on every route,
  // also those whose handler validates the body itself. Headers too: Node's HTTP parser refuses U+0000 in them,
  // but a header that reaches SQL must not depend on that.
  app.addHook('preValidation', async function refuseNul(req) {
    const parts: [string, unknown][] = [['', req.body], ['querystring', req.query], ['params', req.params], ['headers', req.headers]]
    for (const [part, value] of parts) {
      const field = findNul(value, part || undefined)
      if (field !== null) {
        throw new AppError('request.validation', 'The request is invalid; see errors for each field.', {
          errors: [{ field: field || 'body', message: 'must not contain the NUL character (\\u0000)' }],
        })
      }
    }
  })

  // The access line has a fixed shape with nothing to redact, so it skips the logger's full redaction (its wildcard
  // paths cost about 12 µs a line, an eighth of a cached read): one child with a single cheap path, made once.
  const accessLog = opts.logger.child({}, { redact: { paths: ['authorization'], censor: '[redacted]' } })
  app.addHook('onResponse', async function logAccess(req, reply) {
    const route = req.routeOptions.url ?? 'unmatched'
    httpDuration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    req.span?.end(undefined, { 'http.route': route, 'http.response.status_code': reply.statusCode })
    const level = reply.statusCode >= 500 ? 'error' : 'info'
    accessLog[level]({ correlationId: req.id, method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), sub: req.principal?.sub, traceId: req.span?.span.spanContext().traceId }, 'request')
  })

  const sendProblem = (req: FastifyRequest, reply: FastifyReply, p: ReturnType<typeof problem>, headers?: Record<string, string>) => {
    if (headers) reply.headers(headers)
    // `instance` is the route template, never the requested path: error bodies reflect no input.
    const instance = req.routeOptions.url
    return reply.code(p.status).type('application/problem+json').send({ ...p, ...(instance ? { instance } : {}), correlationId: req.id })
  }

  app.setErrorHandler((error: FastifyError | AppError, req, reply) => {
    if (error instanceof AppError) {
      return sendProblem(req, reply, problem(error.status, error.code, error.message, error.errors ? { errors: error.errors } : {}), error.headers)
    }
    const fe = error as FastifyError & { validation?: ErrorObject[]; validationContext?: string }
    if (fe.validation) {
      const answer = req.routeOptions.config.validation ?? { code: 'request.validation', message: 'The request is invalid; see errors for each field.' }
      return sendProblem(req, reply, problem(400, answer.code, answer.message, { errors: validationErrors(fe.validation, fe.validationContext) }))
    }
    const status = fe.statusCode ?? 500
    if (status < 500) {
      const code =
        fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError ? 'request.malformed-json'
        : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request.payload-too-large'
        : fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'request.unsupported-media-type'
        : 'request.bad-request'
      const detail =
        code === 'request.malformed-json' ? 'The request body is not valid JSON.'
        : code === 'request.payload-too-large' ? `The request body is larger than ${opts.bodyLimit ?? 65536} bytes.`
        : code === 'request.unsupported-media-type' ? 'Send the body as application/json.'
        : 'The request could not be understood.'
      return sendProblem(req, reply, problem(status, code, detail))
    }
    // A value PostgreSQL refused (22xxx: out of range, invalid text, untranslatable character) came from the
    // request: the caller's error, never a 500 nor "unavailable". Logged, since the edge should have caught it.
    const sqlState = dataExceptionOf(error)
    if (sqlState) {
      req.log.warn({ err: error, sqlState }, 'the database refused a request value; answered 400')
      return sendProblem(req, reply, problem(400, 'request.validation', 'The request is invalid; see errors for each field.', { errors: [{ field: 'request', message: dataExceptionMessage(sqlState) }] }))
    }
    if (isInfrastructureError(error)) {
      req.log.warn({ err: error }, 'a dependency is unavailable; answered 503')
      return sendProblem(req, reply, problem(503, 'service.unavailable', 'The service cannot take this request right now (its database is busy or unreachable); retry after a moment.'), { 'retry-after': '1' })
    }
    req.log.error({ err: error }, 'unhandled error')
    return sendProblem(req, reply, problem(500, 'internal.error', 'An unexpected error occurred; it has been logged with this correlation id.'))
  })

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? ''
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].filter((m) => m !== 'HEAD')
    if (allowed.length) {
      return sendProblem(req, reply, problem(405, 'request.method-not-allowed', `${req.method} is not supported here; use ${allowed.join(', ')}.`), { allow: allowed.join(', ') })
    }
    return sendProblem(req, reply, problem(404, 'request.not-found', 'No such endpoint. See /docs for the API.'))
  })

  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async () => ({
    service: opts.name,
    title: opts.title,
    description: opts.description,
    version: opts.version ?? '0.1.0',
    docs: '/docs',
    openapi: '/docs/json',
    health: '/actuator/health',
    metrics: '/actuator/prometheus',
  }))

  const healthRoute = { config: { auth: 'public' as const }, schema: { hide: true, tags: ['actuator'] } }
  // Details only for operators and admins; probes and everyone else get the statuses. The route stays public: a
  // token that does not verify is no error here, it just shows no details (a probe never fails on a token).
  app.get('/actuator/health', healthRoute, async (req, reply) => {
    const [report, staff] = await Promise.all([
      opts.health.report(),
      req.headers.authorization === undefined ? false : opts.verify(req.headers.authorization).then((p) => p.roles.some((r) => r === 'operator' || r === 'admin'), () => false),
    ])
    return reply.code(report.status === 'DOWN' ? 503 : 200).header('vary', 'authorization').send(staff ? report : statusesOf(report))
  })
  app.get('/actuator/health/liveness', healthRoute, async () => ({ status: 'UP' }))
  app.get('/actuator/health/readiness', healthRoute, async (_req, reply) => {
    const report = await opts.health.report()
    return reply.code(report.status === 'DOWN' ? 503 : 200).send({ status: report.status === 'DOWN' ? 'DOWN' : 'UP' })
  })
  app.get('/actuator/prometheus', { schema: { hide: true }, config: { auth: opts.metricsPublic === false ? ['operator', 'admin'] : 'public' } }, async (_req, reply) => {
    return reply.type(client.register.contentType).send(await client.register.metrics())
  })

  return app
}

export type App = Awaited<ReturnType<typeof createApp>>
export type { FastifyInstance }

/** Customers may only touch their own resources; anything else answers 404 so ids cannot be probed. */
export function canSee(principal: Principal | undefined, ownerId: string): boolean {
  if (!principal) return false // no verified identity sees nothing (fail closed)
  return principal.roles.includes('operator') || principal.roles.includes('admin') || principal.sub === ownerId
}

/** `GET /actuator/caches` (operators): the stats of each of the service's caches, as its cache registry reports them. */
export function registerCachesRoute(app: App, caches: { snapshot(): unknown } | undefined) {
  app.get(
    '/actuator/caches',
    { config: { auth: ['operator', 'admin'] }, schema: { hide: true, tags: ['actuator'], summary: 'Hits, misses, hit ratio, loads, invalidations, errors and load latency per cache' } },
    async () => caches?.snapshot() ?? { caches: {} },
  )
}
