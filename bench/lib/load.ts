// Closed-loop HTTP load with autocannon (fixed connections, each sends its next request when the previous one
// answered), recording every response's latency and status so percentiles and error counts are exact.
import autocannon from 'autocannon'
import { distribution, type Distribution } from './stats.ts'
import { progress } from './progress.ts'

export interface LoadResult {
  seconds: number
  requests: number
  ok: number
  /** 2xx responses per second over the run. */
  okPerSecond: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  latency: Distribution
  latenciesMs: number[]
}

export async function cannon(opts: {
  label: string
  url: string
  connections: number
  seconds?: number
  amount?: number
  requests: autocannon.Request[]
  /** Used for the progress line when running by amount. */
  expectedSeconds?: number
}): Promise<LoadResult> {
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let ok = 0
  const started = Date.now()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        pipelining: 1,
        timeout: 30,
        ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 10 }),
        requests: opts.requests,
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime)
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
      if (statusCode >= 200 && statusCode < 300) ok++
    })
    const total = opts.seconds ?? opts.expectedSeconds ?? 0
    const timer = setInterval(() => {
      const el = (Date.now() - started) / 1000
      progress(opts.label, el, total, `${Math.round(ok / Math.max(el, 0.001))} ok/s  ${latencies.length}${opts.amount ? `/${opts.amount}` : ''} responses`)
    }, 1_000)
    instance.on('done', () => clearInterval(timer))
  })
  const seconds = result.duration
  return {
    seconds,
    requests: latencies.length,
    ok,
    okPerSecond: Math.round((ok / seconds) * 10) / 10,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    latency: distribution(latencies),
    latenciesMs: latencies,
  }
}
