import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClientQueue, createFanout, formatSse, streamToClient, type Fanout, type FanoutMessage } from '../src/index.ts'
import { eventually } from '../../../tests/support/stack.ts'
import { connect, connected, logger, redisUrl, runId } from './support.ts'

interface StatusChanged {
  status: string
  seq: number
}

const channel = `test:fanout:${runId}`
let copyA: Fanout<StatusChanged>
let copyB: Fanout<StatusChanged>
const inspector = connect('fanout-test-inspector')

beforeAll(async () => {
  // Two copies of a service: independent fanouts, each with its own two connections.
  copyA = createFanout<StatusChanged>({ redis: redisUrl, channel, logger, historySize: 10 })
  copyB = createFanout<StatusChanged>({ redis: redisUrl, channel, logger, historySize: 10 })
  await Promise.all([copyA.ready(), copyB.ready(), connected(inspector)])
})
afterAll(async () => {
  await Promise.all([copyA.close(), copyB.close(), inspector.quit()])
})

const orderId = () => `order-${Math.random().toString(36).slice(2, 10)}`

describe('fanout', () => {
  it('when one copy publishes, then listeners of the other copy (and its own) receive the event with its stream id', async () => {
    const key = orderId()
    const seenByB: FanoutMessage<StatusChanged>[] = []
    const seenByA: FanoutMessage<StatusChanged>[] = []
    const offB = copyB.subscribe((m) => m.key === key && seenByB.push(m))
    const offA = copyA.subscribe((m) => m.key === key && seenByA.push(m))

    const id = await copyA.publish(key, { status: 'PAID', seq: 1 })

    expect(id).toMatch(/^\d+-\d+$/)
    await eventually(() => seenByB.length === 1 && seenByA.length === 1, 15_000, 'delivery to both copies')
    expect(seenByB[0]).toEqual({ id, key, event: { status: 'PAID', seq: 1 } })
    offA()
    offB()
    await copyA.publish(key, { status: 'SHIPPED', seq: 2 })
    // One channel delivers in order: once a later event has reached copy B, the one before it has too.
    const marker = orderId()
    let markerSeen = false
    const offMarker = copyB.subscribe((m) => {
      if (m.key === marker) markerSeen = true
    })
    await copyA.publish(marker, { status: 'MARKER', seq: 3 })
    await eventually(() => markerSeen, 15_000, 'the marker at copy B')
    offMarker()
    expect(seenByB).toHaveLength(1)
  })

  it('when a client resumes with Last-Event-ID, then only newer events of that order are returned', async () => {
    const key = orderId()
    const ids: string[] = []
    for (let seq = 1; seq <= 5; seq++) ids.push((await copyA.publish(key, { status: 'S', seq }))!)
    await copyA.publish(orderId(), { status: 'OTHER', seq: 99 })

    const resumed = await copyB.recentEvents(key, ids[1])
    expect(resumed.gap).toBe(false)
    expect(resumed.events.map((e) => e.event.seq)).toEqual([3, 4, 5])
    expect(resumed.events.map((e) => e.id)).toEqual(ids.slice(2))
    expect(resumed.since).toMatchObject({ id: ids[1], event: { seq: 2 } }) // what the client already has
    expect(await copyB.recentEvents(key, ids[4])).toEqual({ events: [], gap: false, since: { id: ids[4], key, event: { status: 'S', seq: 5 } } })
    expect((await copyB.recentEvents(key)).events.map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5])
  })

  it('when the Last-Event-ID is no longer (or never was) in the history, then the answer flags a gap', async () => {
    const key = orderId()
    await copyA.publish(key, { status: 'S', seq: 1 })

    expect((await copyB.recentEvents(key, '1-0')).gap).toBe(true)
    expect((await copyB.recentEvents(key, 'not-an-id')).gap).toBe(true)
    expect((await copyB.recentEvents(orderId(), '1-0')).gap).toBe(true)
  })

  it('when many events are published for one order, then its history is trimmed and expires', async () => {
    const key = orderId()
    for (let seq = 1; seq <= 500; seq++) await copyA.publish(key, { status: 'S', seq })

    const streamKey = `${channel}:history:${key}`
    const length = await inspector.xlen(streamKey)
    expect(length).toBeGreaterThanOrEqual(10)
    expect(length).toBeLessThan(500)
    expect(await inspector.ttl(streamKey)).toBeGreaterThan(0)
    const latest = await copyB.recentEvents(key, null, 3)
    expect(latest.events.length).toBe(3)
  })
})

describe('client queues', () => {
  /** A client that reads nothing: its socket buffer fills at once and 'drain' never comes. */
  const stalledClient = () => new Writable({ highWaterMark: 1, write: () => undefined })
  const fastClient = (frames: string[]) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        frames.push(chunk.toString())
        done()
      },
    })

  it('when one client is slow, then its queue overflows and it is cut off while a fast client receives every event', async () => {
    const key = orderId()
    const slowQueue = createClientQueue<FanoutMessage<StatusChanged>>({ maxBuffered: 5 })
    const fastQueue = createClientQueue<FanoutMessage<StatusChanged>>({ maxBuffered: 5 })
    const off = copyB.subscribe((m) => {
      if (m.key !== key) return
      slowQueue.push(m)
      fastQueue.push(m)
    })
    const slowSocket = stalledClient()
    const frames: string[] = []
    const fastSocket = fastClient(frames)
    const frame = (item: { type: 'message'; message: FanoutMessage<StatusChanged> } | { type: 'gap'; dropped: number }) =>
      item.type === 'gap' ? formatSse({ event: 'resync', data: {} }) : formatSse({ id: item.message.id, data: item.message.event })
    const slowDone = streamToClient(slowQueue, slowSocket, frame)
    const fastDone = streamToClient(fastQueue, fastSocket, frame)

    for (let seq = 1; seq <= 50; seq++) await copyA.publish(key, { status: 'S', seq })

    await eventually(() => frames.length === 50, 15_000, 'the fast client to get every event')
    expect(frames[49]).toContain('"seq":50')
    expect(frames[0]).toMatch(/^id: \d+-\d+\ndata: \{"status":"S","seq":1\}\n\n$/)
    expect(slowQueue.overflowed).toBe(true)
    await slowDone
    expect(slowSocket.destroyed).toBe(true)
    expect(fastQueue.overflowed).toBe(false)
    fastQueue.close()
    await fastDone
    expect(fastSocket.writableEnded).toBe(true)
    off()
  })

  it('when a drop-oldest queue overflows, then the oldest messages are discarded and a gap item stands in their place', async () => {
    const queue = createClientQueue<number>({ maxBuffered: 3, overflow: 'drop-oldest' })
    for (let n = 1; n <= 5; n++) expect(queue.push(n)).toBe(true)
    queue.push(6)
    setTimeout(() => queue.close(), 50)

    const items = []
    const iterator = queue[Symbol.asyncIterator]()
    for (let i = 0; i < 4; i++) items.push((await iterator.next()).value)

    expect(items).toEqual([
      { type: 'gap', dropped: 3 },
      { type: 'message', message: 4 },
      { type: 'message', message: 5 },
      { type: 'message', message: 6 },
    ])
    expect((await iterator.next()).done).toBe(true)
    expect(queue.push(7)).toBe(false)
  })
})
