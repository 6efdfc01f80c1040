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

/**
 * Errors that say a dependency cannot take the request right now — not the client's fault and not a bug: the pool
 * has no free connection in time, the database refuses or drops connections, or is shutting down. Answered 503 with
 * Retry-After so clients and load balancers back off instead of retrying into an overload.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') {
      if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true
      // SQLSTATE class 08 (connection exception), too many connections, admin/crash shutdown, cannot connect now.
      if (code.startsWith('08') || ['53300', '57P01', '57P02', '57P03'].includes(code)) return true
    }
    if (/^(timeout exceeded when trying to connect|Connection terminated)/.test(e.message)) return true
  }
  return false
}

export function statusOf(code: string): number {
  const suffix = code.slice(code.lastIndexOf('.') + 1)
  return statusBySuffix[suffix] ?? 500
}

const titles: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
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

/** The JSON schema of a problem body, for OpenAPI. */
export const ProblemSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    instance: { type: 'string' },
    correlationId: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const
