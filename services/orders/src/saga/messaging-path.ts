// The messaging path from the order service to a saga participant and back (DESIGN §8), as pure decisions.
// A step's deadline is meant to measure the participant, not the pipes: the order service probes each path the
// way its commands travel (outbox → publisher → Kafka → the participant's consumer → its outbox → … → the saga's
// consumer) and the sweeper, from the newest answered probe, decides three things:
//  - whether the path is down: no probe sent in the last staleness window has come back;
//  - which overdue steps may expire now: only those whose deadline a later probe proves the path was working at
//    (so the seconds before an outage is noticed cannot cancel anything either), none while the path is down —
//    unless the outage has lasted longer than the bound, after which deadlines are no longer held;
//  - when a path comes back, by how much the deadlines of the steps it held are pushed back (once).
import { participants, type Participant } from '@trackops/contracts'
import type { PathOutage, StepName } from './saga.ts'

export { participants, type Participant }

/** The participant whose reply a step waits for. */
export function participantOf(step: StepName): Participant {
  switch (step) {
    case 'RESERVE_INVENTORY':
    case 'RELEASE_INVENTORY':
    case 'COMMIT_RESERVATION':
      return 'inventory'
    case 'PROCESS_PAYMENT':
    case 'REFUND_PAYMENT':
      return 'payments'
    default: {
      const unexpected: never = step
      throw new Error(`unknown step ${String(unexpected)}`)
    }
  }
}

const allSteps: readonly StepName[] = ['RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'REFUND_PAYMENT', 'RELEASE_INVENTORY']
export const stepsWaitingOn = (participant: Participant): StepName[] => allSteps.filter((s) => participantOf(s) === participant)

export interface PathSettings {
  /** How often each path is probed (by all copies of the order service together). */
  probeIntervalMs: number
  /** An outage up to this long holds deadlines and cancels nothing; past it, deadlines are no longer held. */
  outageBoundSeconds: number
}
// 120 s: what the sweeper sees of an outage is the dependency's own downtime plus the clients' reconnection and the
// backlog that built up ahead of the probe (up to 40 s measured here after a 60 s Kafka outage at 8 orders/s under
// the polling relay), so a 60 s outage of Kafka, Connect or a participant stays inside it.
export const defaultPathSettings: PathSettings = { probeIntervalMs: 2_000, outageBoundSeconds: 120 }

/** How long the newest answered probe may be outstanding before the path counts as down. */
export const stalenessMs = (settings: PathSettings) => Math.max(3 * settings.probeIntervalMs, 5_000)

export interface PathRecord {
  participant: Participant
  /** When the first probe was sent; null: never probed (the path is not watched and holds nothing). */
  probingSince: Date | null
  /** sentAt of the newest probe the participant answered. */
  answeredSentAt: Date | null
  /** Set while the path counts as down: the send time of the last probe known to have made the round trip. */
  downSince: Date | null
}

export type PathState =
  | { kind: 'unwatched' }
  /** provenUntil: the send time of the newest answered probe (null: none answered yet). */
  | { kind: 'up'; provenUntil: Date | null }
  /** held: the outage is within the bound, so no deadline of this participant's steps expires. */
  | { kind: 'down'; since: Date; seconds: number; held: boolean }

export type PathChange =
  | { kind: 'none' }
  | { kind: 'went-down'; since: Date }
  /** Deadlines of the steps waiting on the participant move later by the time they spent in the outage. */
  | { kind: 'recovered'; since: Date; outageSeconds: number }

/** The state of a path at `now`, and what must be written for the record to say so. */
export function assessPath(path: PathRecord, now: Date, settings: PathSettings): { state: PathState; change: PathChange } {
  const lastGood = path.answeredSentAt ?? path.probingSince
  if (!lastGood) return { state: { kind: 'unwatched' }, change: { kind: 'none' } }
  const fresh = now.getTime() - lastGood.getTime() <= stalenessMs(settings)
  if (fresh) {
    const state: PathState = { kind: 'up', provenUntil: path.answeredSentAt }
    if (!path.downSince) return { state, change: { kind: 'none' } }
    return { state, change: { kind: 'recovered', since: path.downSince, outageSeconds: secondsBetween(path.downSince, now) } }
  }
  const since = path.downSince ?? lastGood
  const seconds = secondsBetween(since, now)
  const state: PathState = { kind: 'down', since, seconds, held: seconds <= settings.outageBoundSeconds }
  return { state, change: path.downSince ? { kind: 'none' } : { kind: 'went-down', since } }
}

/**
 * The latest deadline of this participant's steps that may expire at `now`; null: none may. A step of an up path
 * expires only once a probe sent at or after its deadline came back (the path demonstrably worked when it passed).
 */
export function expiryHorizon(state: PathState, now: Date): Date | null {
  switch (state.kind) {
    case 'unwatched':
      return now
    case 'up':
      if (!state.provenUntil) return null
      return state.provenUntil.getTime() < now.getTime() ? state.provenUntil : now
    case 'down':
      return state.held ? null : now
    default: {
      const unexpected: never = state
      throw new Error(`unknown path state ${JSON.stringify(unexpected)}`)
    }
  }
}

/** What a step's timeout should say about the path it waited on: set while that path is down. */
export function outageOf(state: PathState, participant: Participant): PathOutage | undefined {
  return state.kind === 'down' ? { participant, seconds: Math.round(state.seconds) } : undefined
}

const secondsBetween = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000)
