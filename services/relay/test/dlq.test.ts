// /api/dlq over the dead_letters and parked_messages tables of every service database, and the hand-off to
// the owning service: a replay requested here is applied by that service's consumer runner (resolve() runs
// the same code as its 1 s timer, without Kafka), and a discard lets the parked records of the key drain.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import client from 'prom-client'
import pino from 'pino'
import type { AnyMessage } from '@trackops/contracts'
import { createConsumer } from '@trackops/messaging'
import type { App } from '@trackops/http'
import { testEnv } from '../../../tests/support/env.ts'
import { createRelayMetrics } from '../src/metrics.ts'
import { auth, closeAll, insertDeadLetter, letterStatus, logger, logLines, ownerDbs, recordingProducer, relayApp, sources, TEST_TOPIC } from './support.ts'

let app: App
beforeAll(async () => {
  app = await relayApp('debezium')
})
afterAll(async () => {
  await app?.close()
  await closeAll()
})

const group = () => `relay-test-${randomUUID()}`
const get = async (url: string, role: 'customer' | 'operator' | 'admin' = 'operator') => app.inject({ method: 'GET', url, headers: await auth(role) })
const post = async (url: string, role: 'customer' | 'operator' | 'admin' = 'admin', payload?: object, sub?: string) =>
  app.inject({ method: 'POST', url, headers: await auth(role, sub), ...(payload ? { payload } : {}) })

describe('reading dead letters', () => {
  it('when listing by group, then the letters of every database come back newest first with error, attempts and parked count', async () => {
    const g = group()
    const older = await insertDeadLetter('orders', { group: g, parked: 2 })
    const newer = await insertDeadLetter('payments', { group: g })
    const res = await get(`/api/dlq?group=${g}`)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ page: 0, size: 20, totalElements: 2, totalPages: 1 })
    expect(body.content.map((l: { id: string }) => l.id)).toEqual([newer.id, older.id])
    expect(body.content[1]).toMatchObject({
      source: 'orders', consumerGroup: g, topic: TEST_TOPIC, key: older.key, status: 'DEAD', error: 'Error: handler exploded', attempts: 3,
      parkedCount: 2, messageId: older.message.id, messageType: 'PAYMENT_PROCESSED', resolvedBy: null,
    })
    expect(body.content[0]).toMatchObject({ source: 'payments', parkedCount: 0 })
  })

  it('when filtering by key, status, topic or source, or paging, then only matching letters come back', async () => {
    const g = group()
    const a = await insertDeadLetter('inventory', { group: g })
    const b = await insertDeadLetter('inventory', { group: g, status: 'DISCARDED' })
    const c = await insertDeadLetter('payments', { group: g, topic: 'payments.commands' })
    const ids = async (query: string) => (await get(`/api/dlq?group=${g}&${query}`)).json().content.map((l: { id: string }) => l.id).sort()
    expect(await ids(`key=${a.key}`)).toEqual([a.id])
    expect(await ids('status=DISCARDED')).toEqual([b.id])
    expect(await ids('topic=payments.commands')).toEqual([c.id])
    expect(await ids('source=inventory')).toEqual([a.id, b.id].sort())
    const page1 = (await get(`/api/dlq?group=${g}&size=2&page=1`)).json()
    expect(page1).toMatchObject({ page: 1, size: 2, totalElements: 3, totalPages: 2 })
    expect(page1.content).toHaveLength(1)
    expect((await get(`/api/dlq?group=${g}&status=LOST`)).statusCode).toBe(400)
  })

  it('when one letter is asked for, then it comes with the record, headers and the records parked behind its key', async () => {
    const letter = await insertDeadLetter('payments', { group: group(), parked: 2 })
    const res = await get(`/api/dlq/${letter.id}`)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ id: letter.id, source: 'payments', value: { id: letter.message.id, data: { amountCents: 700 } }, headers: { id: letter.message.id, type: 'PAYMENT_PROCESSED' }, parkedCount: 2 })
    expect(body.parked.map((p: { messageId: string }) => p.messageId)).toEqual(letter.parked.map((m) => m.id))
    expect((await get(`/api/dlq/${randomUUID()}`)).json()).toMatchObject({ status: 404, code: 'dlq.not-found' })
    expect((await get('/api/dlq/123')).statusCode).toBe(400)
  })

  it('when a customer reads the DLQ, then 403; without a token, then 401', async () => {
    expect((await get('/api/dlq', 'customer')).statusCode).toBe(403)
    expect((await get('/api/dlq/stats', 'customer')).statusCode).toBe(403)
    expect((await app.inject({ method: 'GET', url: '/api/dlq' })).statusCode).toBe(401)
  })

  it('when stats are asked for, then each source/group/topic has its counts by status and its parked records', async () => {
    const g = group()
    await insertDeadLetter('orders', { group: g, parked: 3 })
    await insertDeadLetter('orders', { group: g, status: 'REPLAYED' })
    await insertDeadLetter('orders', { group: g, status: 'DISCARDED' })
    await insertDeadLetter('orders', { group: g, status: 'REPLAY_REQUESTED' })
    const res = await get('/api/dlq/stats')
    expect(res.statusCode).toBe(200)
    expect(res.json().unavailable).toEqual([])
    expect(res.json().groups.filter((r: { group: string }) => r.group === g)).toEqual([
      { source: 'orders', group: g, topic: TEST_TOPIC, dead: 1, replayRequested: 1, replayed: 1, discarded: 1, parked: 3 },
    ])
  })
})

describe('replaying and discarding', () => {
  it('when an admin replays a DEAD letter, then it becomes REPLAY_REQUESTED with the admin recorded and audited; again is 409', async () => {
    const letter = await insertDeadLetter('inventory', { group: group() })
    const sub = `admin-${randomUUID().slice(0, 8)}`
    const res = await post(`/api/dlq/${letter.id}/replay`, 'admin', undefined, sub)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ id: letter.id, source: 'inventory', status: 'REPLAY_REQUESTED', resolvedBy: sub })
    expect(await letterStatus('inventory', letter.id)).toEqual({ status: 'REPLAY_REQUESTED', resolved_by: sub })
    expect(logLines.some((l) => l.audit === true && l.deadLetterId === letter.id && l.actor === sub && l.action === 'dlq.replay')).toBe(true)

    const again = await post(`/api/dlq/${letter.id}/replay`)
    expect(again.statusCode).toBe(409)
    expect(again.json().detail).toMatch(/REPLAY_REQUESTED/)
    expect((await post(`/api/dlq/${letter.id}/discard`)).statusCode).toBe(409)
  })

  it('when an operator or customer tries to replay or discard, then 403 and the letter stays DEAD; an unknown id is 404', async () => {
    const letter = await insertDeadLetter('orders', { group: group() })
    expect((await post(`/api/dlq/${letter.id}/replay`, 'operator')).statusCode).toBe(403)
    expect((await post(`/api/dlq/${letter.id}/discard`, 'customer')).statusCode).toBe(403)
    expect((await post('/api/dlq/replay', 'operator', { group: 'x' })).statusCode).toBe(403)
    expect((await letterStatus('orders', letter.id))?.status).toBe('DEAD')
    expect((await post(`/api/dlq/${randomUUID()}/replay`)).statusCode).toBe(404)
    expect((await post(`/api/dlq/${randomUUID()}/discard`)).statusCode).toBe(404)
  })

  it('when an admin discards a letter, then it is DISCARDED by them and audited; discarding it again is 409', async () => {
    const letter = await insertDeadLetter('payments', { group: group() })
    const res = await post(`/api/dlq/${letter.id}/discard`, 'admin', undefined, 'admin-discarder')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'DISCARDED', resolvedBy: 'admin-discarder' })
    expect(logLines.some((l) => l.audit === true && l.deadLetterId === letter.id && l.action === 'dlq.discard')).toBe(true)
    expect((await post(`/api/dlq/${letter.id}/discard`)).statusCode).toBe(409)
  })

  it('when replaying by filter, then every DEAD letter matching it (and only those) is requested; no filter is 400', async () => {
    const g = group()
    const dead = [await insertDeadLetter('orders', { group: g }), await insertDeadLetter('payments', { group: g })]
    const discarded = await insertDeadLetter('payments', { group: g, status: 'DISCARDED' })
    const other = await insertDeadLetter('payments', { group: group() })
    const res = await post('/api/dlq/replay', 'admin', { group: g })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ requested: 2, sources: [{ source: 'orders', requested: 1 }, { source: 'inventory', requested: 0 }, { source: 'payments', requested: 1 }] })
    expect(res.json().ids.sort()).toEqual(dead.map((d) => d.id).sort())
    expect((await letterStatus('payments', discarded.id))?.status).toBe('DISCARDED')
    expect((await letterStatus('payments', other.id))?.status).toBe('DEAD')
    expect((await post('/api/dlq/replay', 'admin', { group: g })).json().requested).toBe(0)

    const none = await post('/api/dlq/replay', 'admin', {})
    expect(none.statusCode).toBe(400)
    expect(none.json().code).toBe('dlq.validation')
    expect((await post('/api/dlq/replay', 'admin', { group: g, source: 'billing' })).statusCode).toBe(400)
  })
})

describe('hand-off to the owning service', () => {
  /** The owning service's runner for the test group, on its own database, without Kafka. */
  function runnerFor(g: string, applied: AnyMessage[]) {
    return createConsumer({
      db: ownerDbs.payments, brokers: testEnv.brokers, producer: recordingProducer(), logger: pino({ level: 'silent' }), group: g, topics: [TEST_TOPIC],
      handle: async (_tx, message) => {
        applied.push(message)
      },
    })
  }

  it('when a replay is requested, then the service runner applies the record and marks the letter REPLAYED', async () => {
    const g = group()
    const letter = await insertDeadLetter('payments', { group: g })
    const applied: AnyMessage[] = []
    const runner = runnerFor(g, applied)
    expect(await runner.resolve()).toBe(0) // DEAD blocks: nothing to do yet
    expect((await post(`/api/dlq/${letter.id}/replay`)).statusCode).toBe(200)
    expect(await runner.resolve()).toBe(1)
    expect(applied.map((m) => m.id)).toEqual([letter.message.id])
    expect((await get(`/api/dlq/${letter.id}`)).json()).toMatchObject({ status: 'REPLAYED' })
  })

  it('when a letter with parked records is discarded, then the parked records drain in order and the parked count drops to 0', async () => {
    const g = group()
    const letter = await insertDeadLetter('payments', { group: g, parked: 2 })
    const applied: AnyMessage[] = []
    const runner = runnerFor(g, applied)
    expect(await runner.resolve()).toBe(0)
    expect((await post(`/api/dlq/${letter.id}/discard`)).statusCode).toBe(200)
    expect(await runner.resolve()).toBe(2)
    expect(applied.map((m) => m.id)).toEqual(letter.parked.map((m) => m.id))
    expect((await get(`/api/dlq/${letter.id}`)).json()).toMatchObject({ status: 'DISCARDED', parkedCount: 0, parked: [] })
  })
})

describe('DLQ depth metric', () => {
  it('when metrics are refreshed, then trackops_dlq_depth counts the unresolved letters per source and group', async () => {
    const g = group()
    await insertDeadLetter('inventory', { group: g })
    await insertDeadLetter('inventory', { group: g, status: 'REPLAY_REQUESTED' })
    await insertDeadLetter('inventory', { group: g, status: 'REPLAYED' })
    await createRelayMetrics({ sources, strategy: 'debezium', logger }).refresh()
    const values = (await client.register.getSingleMetric('trackops_dlq_depth')!.get()).values
    expect(values.find((v) => v.labels.group === g)).toMatchObject({ value: 2, labels: { source: 'inventory', group: g } })
  })
})
