// The backends the operations endpoints call (the services, Kafka, Kafka Connect) and how: every call within a
// timeout, and its failure as a text a panel can show.
export interface Service {
  name: string
  url: string
}

const TIMEOUT_MS = 3_000

export const errorText = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string; message?: string } | undefined)
    if (error.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`
    if (cause?.message) return cause.message
    if (cause?.code) return cause.code
    return error.message
  }
  return String(error)
}

export async function fetchWithin(url: string, init: RequestInit = {}, ms = TIMEOUT_MS) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) })
}

export async function readBody(res: Response): Promise<unknown> {
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
