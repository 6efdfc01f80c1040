// The order service's side of the messaging-path probe (DESIGN §8). Every probe interval one copy of the service
// enqueues PATH_PROBE for each participant through its outbox (so it travels exactly as saga commands do); the
// participant answers PATH_PROBE_ACK on its events topic, which the saga's own consumer group records. Each pass
// of the saga sweeper first brings the path records up to date (an outage starts, or ends and the deadlines it
// held are pushed back), then expires only the steps the paths allow (messaging-path.ts decides which).
import type { Logger } from 'pino'
import type { MessageOf } from '@trackops/contracts'
import { enqueue, newMessage } from '@trackops/messaging'
import type { Job } from '@trackops/runtime'
import type { Db, OrdersDb } from '../order-store.ts'
import { assessPath, participants, type Participant, type PathSettings, type PathState } from './messaging-path.ts'
import { claimProbeTurn, closeOutage, listPaths, lockPath, markPathDown, recordProbeAnswer } from './path-store.ts'
import { pathMetrics } from './metrics.ts'

/** Enqueues a probe to each participant whose last probe (sent by any copy) is at least an interval old. */
export async function sendProbes(db: Db, now: Date, settings: Pick<PathSettings, 'probeIntervalMs'>, newId: () => string): Promise<Participant[]> {
  const sent: Participant[] = []
  for (const participant of participants) {
    const probed = await db.transaction().execute(async (tx) => {
      if (!(await claimProbeTurn(tx, participant, now, settings.probeIntervalMs))) return false
      const probeId = newId()
      await enqueue<OrdersDb>(tx, newMessage('PATH_PROBE', { participant, probeId, sentAt: now.toISOString() }, { correlationId: `path-probe-${probeId}` }, now))
      return true
    })
    if (probed) sent.push(participant)
  }
  return sent
}

/** The periodic job (runService's `jobs`) that sends the probes. */
export function pathProbes(deps: { db: Db; settings: PathSettings; now: () => Date; newId: () => string }): Job {
  return {
    name: 'messaging-path-probe',
    intervalMs: deps.settings.probeIntervalMs,
    run: () => sendProbes(deps.db, deps.now(), deps.settings, deps.newId),
  }
}

/** PATH_PROBE_ACK, in the saga consumer's transaction: the round trip to the participant worked. */
export async function recordProbeAck(tx: Db, message: MessageOf<'PATH_PROBE_ACK'>, now: Date): Promise<void> {
  const { participant, sentAt } = message.data
  const sent = new Date(sentAt)
  await recordProbeAnswer(tx, participant, sent, now)
  pathMetrics.roundTripSeconds.observe({ participant }, Math.max(0, now.getTime() - sent.getTime()) / 1000)
}

/**
 * Brings each path record up to date at `now`, one transaction per participant under its row lock (so concurrent
 * sweepers agree: the outage starts once, and ends — extending the held deadlines — once), and returns the states
 * the sweep must respect.
 */
export async function checkPaths(db: Db, now: Date, settings: PathSettings, log: Pick<Logger, 'warn' | 'info'>): Promise<Record<Participant, PathState>> {
  const states = {} as Record<Participant, PathState>
  for (const participant of participants) {
    states[participant] = await db.transaction().execute(async (tx) => {
      const path = await lockPath(tx, participant)
      if (!path) return { kind: 'unwatched' } as const
      const { state, change } = assessPath(path, now, settings)
      switch (change.kind) {
        case 'none':
          break
        case 'went-down':
          await markPathDown(tx, participant, change.since)
          log.warn({ participant, since: change.since.toISOString(), outageBoundSeconds: settings.outageBoundSeconds }, `messaging path to ${participant} is down: saga deadlines waiting on it are held for up to ${settings.outageBoundSeconds} s`)
          break
        case 'recovered': {
          const extended = await closeOutage(tx, participant, change.since, now)
          pathMetrics.outages.inc({ participant })
          pathMetrics.extended.inc({ participant }, extended)
          log.warn({ participant, outageSeconds: Math.round(change.outageSeconds), extended }, `messaging path to ${participant} is back after ${Math.round(change.outageSeconds)} s: ${extended} saga deadline(s) pushed back`)
          break
        }
        default: {
          const unexpected: never = change
          throw new Error(`unknown path change ${JSON.stringify(unexpected)}`)
        }
      }
      return state
    })
    const state = states[participant]
    pathMetrics.downSeconds.set({ participant }, state.kind === 'down' ? state.seconds : 0)
  }
  return states
}

/** The `messagingPath` health component: DEGRADED while the path to a participant is down. */
export function messagingPathComponent(db: Db, settings: PathSettings, now: () => Date) {
  return {
    required: false,
    check: async () => {
      const at = now()
      const details: Record<string, unknown> = {}
      let degraded = false
      for (const path of await listPaths(db)) {
        const { state } = assessPath(path, at, settings)
        if (state.kind === 'down') degraded = true
        const seconds = (d: Date | null) => (d ? Math.round((at.getTime() - d.getTime()) / 100) / 10 : null)
        details[path.participant] = {
          status: state.kind === 'down' ? 'DOWN' : state.kind === 'up' ? 'UP' : 'UNKNOWN',
          ...(state.kind === 'down' ? { downForSeconds: Math.round(state.seconds), deadlinesHeld: state.held } : {}),
          lastAnsweredProbeAgeSeconds: seconds(path.answeredSentAt),
          lastOutageSeconds: path.lastOutageSeconds === null ? null : Math.round(path.lastOutageSeconds),
          lastRecoveredAt: path.lastRecoveredAt?.toISOString() ?? null,
        }
      }
      return { status: degraded ? ('DEGRADED' as const) : ('UP' as const), details: { outageBoundSeconds: settings.outageBoundSeconds, ...details } }
    },
  }
}
