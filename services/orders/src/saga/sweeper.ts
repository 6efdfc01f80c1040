// Finds sagas whose current step is past its deadline and lets the saga decide: a running step is given up and
// compensated, an unanswered compensation is re-sent with a doubled deadline, and after the last attempt the
// saga rests in COMPENSATION_FAILED for an operator. One transaction per saga, claimed with SKIP LOCKED, so any
// number of order-service copies sweep side by side and a saga busy with a reply is simply left for next time.
// Deadlines measure the participant, not the pipes (DESIGN §8): each pass first checks the messaging path to each
// participant (probe-paths.ts), and a step waiting on a path that is down does not expire until the outage
// outlasts its bound — then its timeout names the outage.
import type { Logger } from 'pino'
import type { Job } from '@trackops/runtime'
import type { Db } from '../order-store.ts'
import type { PathOutage, Saga, Transition } from './saga.ts'
import { claimOverdueSaga } from './store.ts'
import { expiryHorizon, outageOf, participantOf, participants, type Participant, type PathSettings, type PathState } from './messaging-path.ts'
import { checkPaths } from './probe-paths.ts'

const MAX_PER_PASS = 200

export interface SagaSweeper {
  /** Handles every saga overdue at `now` (up to a bound per pass); returns how many were handled. */
  sweepOnce(now?: Date, signal?: AbortSignal): Promise<number>
  /** The periodic job (runService's `jobs`) that sweeps every `intervalMs`. */
  job(intervalMs?: number): Job
}

export function createSagaSweeper(deps: {
  db: Db
  logger: Logger
  now: () => Date
  paths: PathSettings
  /** Applies the deadline event to a claimed saga in the claiming transaction (the saga's factory decides and persists). */
  deadline: (tx: Db, saga: Saga, outage: PathOutage | undefined, now: Date) => Promise<Transition>
}): SagaSweeper {
  const log = deps.logger.child({ component: 'saga-sweeper' })

  async function sweepOnce(now: Date = deps.now(), signal?: AbortSignal): Promise<number> {
    let paths: Record<Participant, PathState>
    try {
      paths = await checkPaths(deps.db, now, deps.paths, log)
    } catch (error) {
      // Without knowing the paths, no deadline can be judged: nothing expires in this pass.
      log.error({ err: error }, 'messaging paths could not be checked; saga deadlines wait for the next pass')
      return 0
    }
    const horizons = Object.fromEntries(participants.map((p) => [p, expiryHorizon(paths[p], now)])) as Record<Participant, Date | null>
    let handled = 0
    const skip: string[] = []
    // A shutdown ends the pass between sagas: the rest is left for the next pass (of this or another copy).
    while (handled + skip.length < MAX_PER_PASS && !signal?.aborted) {
      let claimed: string | undefined
      try {
        const found = await deps.db.transaction().execute(async (tx) => {
          const saga = await claimOverdueSaga(tx, now, skip, horizons)
          if (!saga) return 'none'
          claimed = saga.id
          const participant = saga.currentStep ? participantOf(saga.currentStep) : null
          const outage = participant ? outageOf(paths[participant], participant) : undefined
          const t = await deps.deadline(tx, saga, outage, now)
          if (t.effect !== 'applied') return 'skipped'
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

  return {
    sweepOnce,
    job: (intervalMs = 1_000) => ({ name: 'saga-sweep', intervalMs, run: (signal) => sweepOnce(deps.now(), signal) }),
  }
}
