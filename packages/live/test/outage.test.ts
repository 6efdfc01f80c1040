// Stops the shared Redis for a few seconds: afterAll always starts it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFanout, type Fanout, type FanoutMessage } from '../src/index.ts'
import { eventually, startRedis, stopRedis } from '../../../tests/support/stack.ts'
import { logger, redisUrl, runId } from './support.ts'

interface Item {
  sku: string
  onHand: number
}

const channel = `test:fanout-outage:${runId}`
let copyA: Fanout<Item>
let copyB: Fanout<Item>
const receivedByB: FanoutMessage<Item>[] = []
const gaps = { b: 0 }

beforeAll(async () => {
  await startRedis()
  copyA = createFanout<Item>({ redis: redisUrl, channel, logger })
  copyB = createFanout<Item>({ redis: redisUrl, channel, logger })
  copyB.subscribe((m) => receivedByB.push(m), { onGap: () => gaps.b++ })
  await Promise.all([copyA.ready(), copyB.ready()])
})

afterAll(async () => {
  await startRedis()
  await Promise.all([copyA?.close(), copyB?.close()])
})

describe('when Redis goes away and comes back', () => {
  it('when Redis stops, then publishing fails soft and the history reports a gap', async () => {
    await stopRedis()

    expect(await copyA.publish('sku-1', { sku: 'sku-1', onHand: 4 })).toBeNull()

    expect(copyA.stats()).toMatchObject({ publishFailures: 1, degraded: true })
    expect((await copyA.recentEvents('sku-1', '1-0')).gap).toBe(true)
  })

  it('when Redis is back, then the same clients deliver live updates again by themselves', async () => {
    await startRedis()

    // Each copy reconnects on its own back-off: an event published before copy B has subscribed again is in the
    // history (resume) but not delivered live. Copy B is told about the gap once its subscription is back.
    await eventually(() => gaps.b >= 1, 20_000, 'the other copy to subscribe again')
    const id = await eventually(() => copyA.publish('sku-1', { sku: 'sku-1', onHand: 3 }), 20_000, 'publishing to work again')
    await eventually(() => receivedByB.some((m) => m.id === id), 20_000, 'the other copy to receive again')
    expect(gaps.b).toBe(1)
    expect(copyA.stats().degraded).toBe(false)
  })
})
