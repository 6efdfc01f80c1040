import { Type, type TUnsafe } from 'typebox'
/** The one application error. `code` is stable and dotted (`order.not-found`); its last part decides the status. */
export class AppError extends Error {
  readonly code: string
  readonly status: number
  readonly errors?: { field: string; message: string }[]
  readonly headers?: Record<string, string>
  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; status?: number; errors?: { field: string; message: string }[]; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.status = options.status ?? statusOf(code)
    if (options.errors) this.errors = options.errors
    if (options.headers) this.headers = options.headers
  }
}

const statusBySuffix: Record<string, number> = {
  'validation': 400,
  'bad-request': 400,
  'unauthorized': 401,
  'forbidden': 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'conflict': 409,
  'invalid-transition': 409,
  'already-exists': 409,
  'payload-too-large': 413,
  'unprocessable': 422,
  'rate-limited': 429,
  'unavailable': 503,
}

export function statusOf(code: string): number {
  const suffix = code.slice(code.lastIndexOf('.') + 1)
  return statusBySuffix[suffix] ?? 500
}

const titles: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 413: 'Payload Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable',
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  instance?: string
  errors?: { field: string; message: string }[]
  correlationId?: string
}

export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: `https://trackops.dev/problems/${code}`, title: titles[status] ?? 'Error', status, detail, code, ...extra }
}

/**
 * The schema of a problem body, for OpenAPI and as a route's error response. Every field is optional, as in
 * replies Fastify itself builds; `problem()` always fills type, title, status, detail and code.
 */
export const ProblemSchema = Type.Object({
  type: Type.Optional(Type.String()),
  title: Type.Optional(Type.String()),
  status: Type.Optional(Type.Integer()),
  detail: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  correlationId: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.Optional(Type.String()) }))),
})

/**
 * A route's own error statuses (those its handler throws; the shared pipeline's are added to the document
 * by openapi.ts), for its schema's `response`: `response: { 200: Item, ...problems(404, 409) }`.
 */
export function problems<S extends number>(...statuses: S[]): Record<S, TUnsafe<never>> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema])) as unknown as Record<S, TUnsafe<never>>
}
