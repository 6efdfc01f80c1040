// The pure decisions about the messaging path to a participant (DESIGN §8): when it is down, which deadlines may
// expire, when deadlines stop being held, and what a timeout says about an outage. No database, no clock.
import { describe, expect, it } from 'vitest'
import { assessPath, expiryHorizon, outageOf, participantOf, stalenessMs, stepsWaitingOn, type PathRecord } from '../src/saga/messaging-path.ts'
import { advance, openSaga, type SagaConfig } from '../src/saga/saga.ts'

const T0 = new Date('2030-01-01T00:00:00.000Z')
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
const settings = { probeIntervalMs: 2_000, outageBoundSeconds: 60 }
const path = (p: Partial<PathRecord> = {}): PathRecord => ({ participant: 'inventory', probingSince: at(-600), answeredSentAt: at(0), downSince: null, ...p })

describe('the messaging path to a participant', () => {
  it('when steps are named, then each waits on the participant that answers it', () => {
    expect(stepsWaitingOn('inventory')).toEqual(['RESERVE_INVENTORY', 'COMMIT_RESERVATION', 'RELEASE_INVENTORY'])
    expect(stepsWaitingOn('payments')).toEqual(['PROCESS_PAYMENT', 'REFUND_PAYMENT'])
    expect(participantOf('REFUND_PAYMENT')).toBe('payments')
  })

  it('when the probe interval is short, then the staleness bound is still a few seconds; otherwise three intervals', () => {
    expect(stalenessMs({ probeIntervalMs: 500, outageBoundSeconds: 60 })).toBe(5_000)
    expect(stalenessMs({ probeIntervalMs: 2_000, outageBoundSeconds: 60 })).toBe(6_000)
    expect(stalenessMs({ probeIntervalMs: 10_000, outageBoundSeconds: 60 })).toBe(30_000)
  })

  it('when the path was never probed, then it is unwatched and every overdue deadline may expire', () => {
    const { state, change } = assessPath(path({ probingSince: null, answeredSentAt: null }), at(100), settings)
    expect(state).toEqual({ kind: 'unwatched' })
    expect(change).toEqual({ kind: 'none' })
    expect(expiryHorizon(state, at(100))).toEqual(at(100))
  })

  it('when the newest answered probe is recent, then the path is up and only deadlines up to its send time may expire', () => {
    const { state, change } = assessPath(path({ answeredSentAt: at(10) }), at(12), settings)
    expect(state).toEqual({ kind: 'up', provenUntil: at(10) })
    expect(change).toEqual({ kind: 'none' })
    expect(expiryHorizon(state, at(12))).toEqual(at(10))
    // an answer stamped later than this copy's clock proves no more than now
    expect(expiryHorizon({ kind: 'up', provenUntil: at(20) }, at(12))).toEqual(at(12))
  })

  it('when probing has just started and nothing was answered yet, then the path is up but no deadline is proven', () => {
    const { state } = assessPath(path({ probingSince: at(0), answeredSentAt: null }), at(1), settings)
    expect(state).toEqual({ kind: 'up', provenUntil: null })
    expect(expiryHorizon(state, at(1))).toBeNull()
  })

  it('when no answer came for longer than the staleness bound, then the path goes down since the last probe known to get through, and holds deadlines', () => {
    const { state, change } = assessPath(path({ answeredSentAt: at(0) }), at(7), settings)
    expect(change).toEqual({ kind: 'went-down', since: at(0) })
    expect(state).toEqual({ kind: 'down', since: at(0), seconds: 7, held: true })
    expect(expiryHorizon(state, at(7))).toBeNull()
    // a path that never answered counts from its first probe
    expect(assessPath(path({ probingSince: at(0), answeredSentAt: null }), at(7), settings).change).toEqual({ kind: 'went-down', since: at(0) })
  })

  it('when the path is already down, then it stays down from the same moment with no new change', () => {
    const { state, change } = assessPath(path({ answeredSentAt: at(0), downSince: at(0) }), at(30), settings)
    expect(change).toEqual({ kind: 'none' })
    expect(state).toEqual({ kind: 'down', since: at(0), seconds: 30, held: true })
  })

  it('when the outage outlasts the bound, then deadlines are no longer held and a timeout names the outage', () => {
    const { state } = assessPath(path({ answeredSentAt: at(0), downSince: at(0) }), at(61), settings)
    expect(state).toEqual({ kind: 'down', since: at(0), seconds: 61, held: false })
    expect(expiryHorizon(state, at(61))).toEqual(at(61))
    expect(outageOf(state, 'inventory')).toEqual({ participant: 'inventory', seconds: 61 })
    expect(outageOf({ kind: 'up', provenUntil: at(60) }, 'inventory')).toBeUndefined()
  })

  it('when answers come back after an outage, then the path recovers with the outage length', () => {
    const { state, change } = assessPath(path({ answeredSentAt: at(38), downSince: at(0) }), at(40), settings)
    expect(state).toEqual({ kind: 'up', provenUntil: at(38) })
    expect(change).toEqual({ kind: 'recovered', since: at(0), outageSeconds: 40 })
  })
})

describe('a deadline with an outage note', () => {
  const config: SagaConfig = { stepTimeoutSeconds: 30, maxCompensationAttempts: 3 }
  const started = () =>
    openSaga({ orderId: '0d0e0000-0000-4000-8000-000000000002', customerId: 'c0570000-0000-4000-8000-000000000003', items: [{ productId: 'P-1', quantity: 1 }], totalCents: 1000, currency: 'USD', paymentToken: 'tok_visa', correlationId: 'c' }, '5a6a0000-0000-4000-8000-000000000001', T0, config).saga

  it('when a running step times out during a long outage, then the cancellation reason names the path and its length', () => {
    const t = advance(started(), { kind: 'deadline', outage: { participant: 'inventory', seconds: 75 } }, at(75), config)
    expect(t.effect).toBe('applied')
    expect(t.saga).toMatchObject({ status: 'COMPENSATING', cause: 'timeout', cancelReason: 'inventory reservation timed out: the messaging path to inventory was unavailable for 75 s' })
    expect(t.commands).toEqual([expect.objectContaining({ type: 'RELEASE_INVENTORY', data: expect.objectContaining({ reason: 'inventory reservation timed out: the messaging path to inventory was unavailable for 75 s' }) })])
  })

  it('when an unanswered compensation is re-sent during a long outage, then its step error names the outage', () => {
    const compensating = advance(started(), { kind: 'deadline' }, at(31), config).saga
    const t = advance(compensating, { kind: 'deadline', outage: { participant: 'inventory', seconds: 90 } }, at(62), config)
    expect(t.saga.compensationAttempts).toBe(2)
    expect(t.saga.steps.find((s) => s.name === 'RELEASE_INVENTORY')?.error).toMatch(/\(the messaging path to inventory was unavailable for 90 s\); re-sent \(attempt 2\)$/)
  })

  it('when a step times out without an outage, then the reason is the plain timeout', () => {
    expect(advance(started(), { kind: 'deadline' }, at(31), config).saga.cancelReason).toBe('inventory reservation timed out')
  })
})
