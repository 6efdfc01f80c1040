// Calls to the console's own origin (/api/*), with the signed-in user's token. Every failure becomes an
// ApiError carrying the problem+json fields, so each panel can show the API's own `detail`.
import { getSession } from './session.ts'

export interface ProblemBody {
  title?: string
  status?: number
  detail?: string
  code?: string
  errors?: { field: string; message: string }[]
  correlationId?: string
}

export class ApiError extends Error {
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly code: string
  readonly errors: { field: string; message: string }[]
  readonly correlationId: string | null
  readonly path: string
  constructor(path: string, status: number, body: ProblemBody) {
    super(body.detail ?? body.title ?? `HTTP ${status}`)
    this.name = 'ApiError'
    this.path = path
    this.status = status
    this.title = body.title ?? (status === 0 ? 'No answer' : `HTTP ${status}`)
    this.detail = body.detail ?? this.message
    this.code = body.code ?? (status === 0 ? 'console.unreachable' : 'unknown')
    this.errors = body.errors ?? []
    this.correlationId = body.correlationId ?? null
  }
}

export interface RequestOptions {
  method?: string
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
}

export const authHeaders = (): Record<string, string> => {
  const s = getSession()
  return s ? { authorization: `Bearer ${s.token}` } : {}
}

export async function problemOf(path: string, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '')
  let body: ProblemBody = {}
  try {
    body = JSON.parse(text) as ProblemBody
  } catch {
    body = { detail: text.slice(0, 300) || res.statusText || `HTTP ${res.status}` }
  }
  return new ApiError(path, res.status, body)
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(), ...opts.headers }
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      cache: 'no-store',
    })
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    throw new ApiError(path, 0, { detail: 'The console server does not answer. Is it running? bash scripts/services.sh start console' })
  }
  if (!res.ok) throw await problemOf(path, res)
  if (res.status === 204) return null as T
  const type = res.headers.get('content-type') ?? ''
  return (type.includes('json') ? await res.json() : await res.text()) as T
}

/** Both paging shapes the services use: {page, ...} (orders, payments) and Spring's {number, ...} (inventory). */
export interface Page<T> {
  content: T[]
  page?: number
  number?: number
  size: number
  totalElements: number
  totalPages: number
}
export const pageNumber = (p: Page<unknown>) => p.page ?? p.number ?? 0
