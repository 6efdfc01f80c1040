// Finds sagas whose current step is past its deadline and lets the saga decide: a running step is given up and
// compensated, an unanswered compensation is re-sent with a doubled deadline, and after the last attempt the
// saga rests in COMPENSATION_FAILED for an operator. One transaction per saga, claimed with SKIP LOCKED, so any
// number of order-service copies sweep side by side and a saga busy with a reply is simply left for next time.
// Deadlines measure the participant, not the pipes (DESIGN §8): each pass first checks the messaging path to each
// participant (probe-paths.ts), and a step waiting on a path that is down does not expire until the outage
// outlasts its bound — then its timeout names the outage.
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { advance } from './saga.ts'
import { claimOverdueSaga } from './saga-store.ts'
import { commitTransition, sagaConfig } from './saga-handlers.ts'
import { defaultPathSettings, expiryHorizon, outageOf, participantOf, participants, type Participant, type PathSettings, type PathState } from './messaging-path.ts'
import { checkPaths } from './probe-paths.ts'

const MAX_PER_PASS = 200

export function createSagaSweeper(deps: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
  logger: Logger
  stepTimeoutSeconds: number
  intervalMs?: number
  maxCompensationAttempts?: number
  paths?: PathSettings
}): { start(): void; stop(): Promise<void>; sweepOnce(now?: Date): Promise<number> } {
  const log = deps.logger.child({ component: 'saga-sweeper' })
  const config = sagaConfig(deps)
  const pathSettings = deps.paths ?? defaultPathSettings
  const intervalMs = deps.intervalMs ?? 1_000
  let timer: NodeJS.Timeout | undefined
  let pass: Promise<unknown> | undefined
  let stopped = true

  /** Handles every saga overdue at `now` (up to a bound per pass); returns how many were handled. */
  async function sweepOnce(now: Date = new Date()): Promise<number> {
    let paths: Record<Participant, PathState>
    try {
      paths = await checkPaths(deps.db, now, pathSettings, log)
    } catch (error) {
      // Without knowing the paths, no deadline can be judged: nothing expires in this pass.
      log.error({ err: error }, 'messaging paths could not be checked; saga deadlines wait for the next pass')
      return 0
    }
    const horizons = Object.fromEntries(participants.map((p) => [p, expiryHorizon(paths[p], now)])) as Record<Participant, Date | null>
    let handled = 0
    const skip: string[] = []
    while (handled + skip.length < MAX_PER_PASS) {
      let claimed: string | undefined
      try {
        const found = await deps.db.transaction().execute(async (tx) => {
          const saga = await claimOverdueSaga(tx, now, skip, horizons)
          if (!saga) return 'none'
          claimed = saga.id
          const participant = saga.currentStep ? participantOf(saga.currentStep) : null
          const outage = participant ? outageOf(paths[participant], participant) : undefined
          const t = advance(saga, { kind: 'deadline', outage }, now, config)
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
      log.info({ intervalMs, stepTimeoutSeconds: deps.stepTimeoutSeconds, maxCompensationAttempts: config.maxCompensationAttempts, outageBoundSeconds: pathSettings.outageBoundSeconds }, 'saga sweeper started')
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await pass
    },
    sweepOnce,
  }
}
