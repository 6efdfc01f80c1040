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

/**
 * The SQLSTATE of a PostgreSQL data exception (class 22: a value out of range, in an invalid format, or with a
 * character the database cannot store) in the error or its causes, or null. Such an error says the request
 * carried a bad value, not that the database is unavailable.
 */
export function dataExceptionOf(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return code
  }
  return null
}

const dataExceptionMessages: Record<string, string> = {
  '22001': 'a text value is too long',
  '22003': 'a number is out of range',
  '22007': 'a date or time is invalid',
  '22008': 'a date or time is out of range',
  '22021': 'a text value contains a character that cannot be stored (such as \\u0000)',
  '22P02': 'a value is not in the expected format',
  '22P05': 'a text value contains a character that cannot be stored (such as \\u0000)',
}

/** What was wrong with the value, by SQLSTATE, without repeating the value. */
export function dataExceptionMessage(sqlState: string): string {
  return dataExceptionMessages[sqlState] ?? 'a value is not valid'
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
