// Finds sagas whose current step is past its deadline and lets the saga decide: a running step is given up and
// compensated, an unanswered compensation is re-sent with a doubled deadline, and after the last attempt the
// saga rests in COMPENSATION_FAILED for an operator. One transaction per saga, claimed with SKIP LOCKED, so any
// number of order-service copies sweep side by side and a saga busy with a reply is simply left for next time.
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { advance } from './saga.ts'
import { claimOverdueSaga } from './saga-store.ts'
import { commitTransition, sagaConfig } from './saga-handlers.ts'

const MAX_PER_PASS = 200

export function createSagaSweeper(deps: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
  logger: Logger
  stepTimeoutSeconds: number
  intervalMs?: number
  maxCompensationAttempts?: number
}): { start(): void; stop(): Promise<void>; sweepOnce(now?: Date): Promise<number> } {
  const log = deps.logger.child({ component: 'saga-sweeper' })
  const config = sagaConfig(deps)
  const intervalMs = deps.intervalMs ?? 1_000
  let timer: NodeJS.Timeout | undefined
  let pass: Promise<unknown> | undefined
  let stopped = true

  /** Handles every saga overdue at `now` (up to a bound per pass); returns how many were handled. */
  async function sweepOnce(now: Date = new Date()): Promise<number> {
    let handled = 0
    const skip: string[] = []
    while (handled + skip.length < MAX_PER_PASS) {
      let claimed: string | undefined
      try {
        const found = await deps.db.transaction().execute(async (tx) => {
          const saga = await claimOverdueSaga(tx, now, skip)
          if (!saga) return 'none'
          claimed = saga.id
          const t = advance(saga, { kind: 'deadline' }, now, config)
          if (t.effect !== 'applied') return 'skipped'
          await commitTransition(tx, saga, t, { correlationId: saga.correlationId }, now, log, config)
          log.warn({ sagaId: saga.id, orderId: saga.orderId, correlationId: saga.correlationId, status: t.saga.status, step: t.saga.currentStep }, `saga deadline: ${t.note}`)
          return 'handled'
        })
        if (found === 'none') break
        if (found === 'skipped' && claimed) skip.push(claimed)
        else handled++
      } catch (error) {
        // This saga is skipped for the rest of the pass; a database outage ends the pass.
        log.error({ err: error, sagaId: claimed }, 'saga deadline could not be handled')
        if (!claimed) break
        skip.push(claimed)
      }
    }
    return handled
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      pass = sweepOnce()
        .catch((error) => log.error({ err: error }, 'saga sweep failed'))
        .finally(schedule)
    }, intervalMs)
  }

  return {
    start() {
      if (!stopped) return
      stopped = false
      schedule()
      log.info({ intervalMs, stepTimeoutSeconds: deps.stepTimeoutSeconds, maxCompensationAttempts: config.maxCompensationAttempts }, 'saga sweeper started')
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await pass
    },
    sweepOnce,
  }
}
