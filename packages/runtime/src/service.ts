// The one way a process starts and stops (DESIGN §2): listen, then start the background workers — retrying while
// what they need (Kafka) is unreachable, so a broker outage never keeps the API down — and the periodic jobs; on
// SIGTERM/SIGINT stop in a fixed order: HTTP first (no new work), then jobs, then workers (in-flight records
// finish and commit), then the clients they all used.
import type { Logger } from 'pino'
import { startPeriodic, type Periodic } from './periodic.ts'
import { onShutdown } from './shutdown.ts'

/** Something that runs in the background once started: a consumer, the outbox relay. */
export interface Worker {
  readonly name: string
  start(): Promise<void>
  /** Safe to call when start() never succeeded. */
  stop(): Promise<void>
}

/**
 * Periodic work, run through startPeriodic; `run` resolves to true while more work waits (runs again at once). A run
 * that can take long checks `signal.aborted` between steps: shutdown waits for the run in progress.
 */
export interface Job {
  name: string
  intervalMs: number
  run: (signal: AbortSignal) => Promise<unknown>
  /** Run once at start instead of waiting a first interval. */
  runAtStart?: boolean
}

export interface ServiceOptions {
  logger: Logger
  http: { listen(): Promise<unknown>; close(): Promise<unknown> }
  workers?: Worker[]
  jobs?: Job[]
  /** Closed last, in this order, after HTTP, jobs and workers stopped. */
  close?: (() => Promise<unknown>)[]
}

const RETRY_FIRST_MS = 1_000
const RETRY_MAX_MS = 5_000
const LOG_EVERY_NTH_FAILURE = 12
const STOP_WAITS_FOR_A_START_MS = 3_000

export interface RunningService {
  /**
   * Stops in the fixed order — HTTP, jobs, workers, then `close` — each part even when one before it failed.
   * Resolves false when a part failed to close (logged); calling it again returns the same stop.
   */
  stop(): Promise<boolean>
}

/** Runs the service and stops it on SIGTERM/SIGINT, exiting non-zero when a part did not close cleanly. */
export async function runService(opts: ServiceOptions): Promise<void> {
  const service = await startService(opts)
  onShutdown(opts.logger, [
    async () => {
      if (!(await service.stop())) throw new Error('a part of the service did not close cleanly (logged above)')
    },
  ])
}

/** The service running, with its stop in the caller's hands (runService hands it to the signals). */
export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const { logger } = opts
  const workers = opts.workers ?? []
  let stopping = false
  const wakers = new Set<() => void>()
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        wakers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      wakers.add(wake)
    })

  async function startRetrying(worker: Worker) {
    for (let failures = 0, delay = RETRY_FIRST_MS; !stopping; failures++, delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        await worker.start()
        if (failures > 0) logger.info({ worker: worker.name, failures }, 'worker started after retrying')
        return
      } catch (error) {
        if (failures % LOG_EVERY_NTH_FAILURE === 0) logger.warn({ err: error, worker: worker.name, retryInMs: delay }, 'cannot start a worker (is Kafka up?); retrying')
        await pause(delay)
      }
    }
  }

  await opts.http.listen()
  const starting = workers.map(startRetrying)
  const periodic: Periodic[] = (opts.jobs ?? []).map((job) => startPeriodic({ ...job, logger }))

  const closers: (() => Promise<unknown>)[] = [
    () => opts.http.close(),
    ...periodic.map((p) => () => p.stop()),
    async () => {
      stopping = true
      for (const wake of wakers) wake()
      // A start in flight (a broker that does not answer) is given a moment, never the whole grace period.
      await Promise.race([Promise.allSettled(starting), new Promise((r) => setTimeout(r, STOP_WAITS_FOR_A_START_MS).unref())])
    },
    ...workers.map((w) => () => w.stop()),
    ...(opts.close ?? []),
  ]
  let stopped: Promise<boolean> | undefined
  return {
    stop: () =>
      (stopped ??= (async () => {
        let clean = true
        for (const close of closers) {
          try {
            await close()
          } catch (error) {
            clean = false
            logger.error({ err: error }, 'error during shutdown')
          }
        }
        return clean
      })()),
  }
}
