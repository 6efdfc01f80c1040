// The OpenAPI document of a service, as @fastify/swagger builds it from the route schemas, completed here so
// that it describes the server exactly: every operation has an operationId; the errors the shared machinery
// answers (validation, authentication, roles, rate limit, an unavailable dependency) are documented on the
// operations that can meet them; every error is application/problem+json through components.responses.
// Statuses only a route's handler knows (404, 409, 422...) are declared in its schema's `response`.
import type { RouteOptions } from 'fastify'
import type { SwaggerOptions } from '@fastify/swagger'
import type { TSchema } from 'typebox'
import { ProblemSchema } from './errors.ts'

export interface DocumentOptions {
  title: string
  description: string
  version: string
  /** Description of each tag the routes use; a tag without one is listed by name. */
  tags?: Record<string, string>
  /** Whether requests can be refused with 429 (a rate limiter is configured). */
  rateLimited: boolean
}

const responseNames: Record<number, [name: string, description: string]> = {
  400: ['BadRequest', 'The request is invalid (see `errors` for each field) or malformed.'],
  401: ['Unauthorized', 'No valid bearer token.'],
  403: ['Forbidden', 'The token does not carry a role this operation needs.'],
  404: ['NotFound', 'No such resource, or one the caller may not see.'],
  409: ['Conflict', 'The request conflicts with the current state of the resource.'],
  412: ['PreconditionFailed', 'The resource changed since the version given in If-Match.'],
  413: ['PayloadTooLarge', 'The request body is over the size limit.'],
  415: ['UnsupportedMediaType', 'The body is not application/json.'],
  422: ['UnprocessableContent', 'The request is well-formed but breaks a business rule.'],
  428: ['PreconditionRequired', 'This operation needs an If-Match header.'],
  429: ['TooManyRequests', 'Over the rate limit; retry after Retry-After seconds.'],
  503: ['ServiceUnavailable', 'A dependency (database, broker, Kafka Connect) is unavailable; retry after a moment.'],
}

const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } }
const rateLimit = {
  'X-RateLimit-Limit': { description: 'Requests allowed per window for this class of request.', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in this window.', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'When the window ends, in seconds since the epoch.', schema: { type: 'integer' } },
}

/** A response schema that also documents the headers the handler sets (`{ Location: 'The new order.' }`); only OpenAPI reads them. */
export function withHeaders<T extends TSchema>(schema: T, headers: Record<string, string>): T {
  return { ...schema, headers: Object.fromEntries(Object.entries(headers).map(([name, description]) => [name, { type: 'string', description }])) }
}

/** `GET /api/orders/:id/items` → `getOrdersByIdItems`: stable, and unique because method and path are. */
function operationIdOf(method: string, url: string): string {
  const words = url.split('/').filter((s) => s && s !== 'api').map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s))
  return [method.toLowerCase(), ...words].join('-').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())
}

/** The error statuses the shared request pipeline (createApp's hooks and error handler) answers on this route. */
function pipelineStatuses(route: Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>, rateLimited: boolean): number[] {
  const schema = (route.schema ?? {}) as Record<string, unknown>
  const config = (route.config ?? {}) as { auth?: unknown; rateClass?: string }
  const statuses: number[] = []
  if (['body', 'querystring', 'params', 'headers'].some((part) => schema[part] !== undefined)) statuses.push(400)
  // A protected route reaches a dependency (database, Kafka, Kafka Connect): its infrastructure error answers 503.
  if (config.auth !== 'public') statuses.push(401, 403, 503)
  if (schema.body !== undefined) statuses.push(413, 415)
  if (rateLimited && config.rateClass !== 'exempt') statuses.push(429)
  return statuses
}

const isProblem = (schema: unknown) => schema === ProblemSchema

export function swaggerOptions(opts: DocumentOptions): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: opts.title,
        description: opts.description,
        version: opts.version,
        license: { name: 'Proprietary' }, // a private package: no licence is granted (package.json names none)
      },
      servers: [{ url: '/', description: 'This service, at the address this document is served from.' }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: { Problem: ProblemSchema },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      if (!schema || schema.hide) return { schema, url }
      const method = ([] as string[]).concat(route.method).find((m) => m !== 'HEAD') ?? 'GET'
      const declared = (schema.response ?? {}) as Record<string, unknown>
      const problems = new Set(pipelineStatuses(route, opts.rateLimited))
      const response: Record<string, unknown> = {}
      for (const [status, s] of Object.entries(declared)) {
        if (Number(status) >= 400 && isProblem(s)) problems.add(Number(status))
        else response[status] = s
      }
      return {
        schema: {
          ...schema,
          operationId: (schema as { operationId?: string }).operationId ?? operationIdOf(method, url),
          ...(schema.querystring ? { querystring: withDefaultsOptional(schema.querystring) } : {}),
          response: Object.keys(response).length ? response : undefined,
          // Carried on the operation to finishDocument, which turns them into references and removes it.
          'x-problems': [...problems].sort((a, b) => a - b),
        } as typeof schema,
        url,
      }
    },
    transformObject: (documents) => finishDocument((documents as { openapiObject: Document }).openapiObject, opts.tags ?? {}) as never,
  } as SwaggerOptions
}

/** A query parameter with a default is filled in when absent: it is not required of the caller. */
function withDefaultsOptional(schema: unknown): unknown {
  const s = schema as { properties?: Record<string, { default?: unknown }>; required?: string[] }
  if (!s.properties || !s.required) return schema
  const required = s.required.filter((name) => s.properties?.[name]?.default === undefined)
  return { ...s, required }
}

interface Operation {
  tags?: string[]
  responses?: Record<string, Record<string, unknown>>
  'x-problems'?: number[]
}
interface Document {
  paths?: Record<string, Record<string, Operation>>
  components?: Record<string, unknown>
  tags?: { name: string; description?: string }[]
}

/** Error responses become references to components.responses, all problem+json; the used tags are listed. */
function finishDocument(doc: Document, tagDescriptions: Record<string, string>): Document {
  const used = new Set<number>()
  const tags = new Set<string>()
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      for (const tag of op.tags ?? []) tags.add(tag)
      const responses = (op.responses ??= {})
      for (const [status, r] of Object.entries(responses)) {
        // A route-specific problem (a schema with more fields than Problem) keeps its schema, as problem+json.
        const content = r.content as Record<string, unknown> | undefined
        if (Number(status) >= 400 && content?.['application/json']) r.content = { 'application/problem+json': content['application/json'] }
      }
      for (const status of op['x-problems'] ?? []) {
        if (responses[String(status)]) continue
        if (responseNames[status]) {
          used.add(status)
          responses[String(status)] = { $ref: `#/components/responses/${responseNames[status][0]}` }
        } else {
          responses[String(status)] = { description: 'Error', content: problemContent }
        }
      }
      delete op['x-problems']
    }
  }
  const responses: Record<string, unknown> = {}
  for (const status of [...used].sort((a, b) => a - b)) {
    const [name, description] = responseNames[status]!
    responses[name] = { description, content: problemContent, ...(status === 429 ? { headers: { ...retryAfter, ...rateLimit } } : status === 503 ? { headers: retryAfter } : {}) }
  }
  return {
    ...(withoutErrorMessages(doc) as Document),
    tags: [...tags].sort().map((name) => (tagDescriptions[name] ? { name, description: tagDescriptions[name] } : { name })),
    components: { ...doc.components, responses },
  }
}

/** `errorMessage` is a keyword of our validator (validationErrors), not of JSON Schema: not for the document. */
function withoutErrorMessages(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutErrorMessages(n))
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === 'errorMessage' && !inProperties) continue
    out[key] = withoutErrorMessages(value, key === 'properties' && !inProperties)
  }
  return out
}
