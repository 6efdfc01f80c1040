import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { startService, type Job, type Worker } from '../src/service.ts'

const logger = pino({ level: 'silent' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A worker that records what happens to it; its start fails `failures` times first. */
function worker(name: string, events: string[], failures = 0): Worker & { attempts: number } {
  const w = {
    name,
    attempts: 0,
    async start() {
      w.attempts++
      events.push(`${name} start #${w.attempts}`)
      if (w.attempts <= failures) throw new Error('broker unreachable')
    },
    async stop() {
      events.push(`${name} stop`)
    },
  }
  return w
}

const http = (events: string[]) => ({
  listen: async () => void events.push('listen'),
  close: async () => void events.push('http close'),
})

describe('startService: the one way a process starts and stops', () => {
  it('when started, then it listens before any worker starts and runs its jobs', async () => {
    const events: string[] = []
    let runs = 0
    const job: Job = { name: 'job', intervalMs: 10, runAtStart: true, run: async () => void runs++ }
    const service = await startService({ logger, http: http(events), workers: [worker('a', events), worker('b', events)], jobs: [job] })
    await sleep(50)
    expect(events.slice(0, 3)).toEqual(['listen', 'a start #1', 'b start #1'])
    expect(runs).toBeGreaterThanOrEqual(2)
    expect(await service.stop()).toBe(true)
  })

  it('when a worker cannot start (Kafka down), then HTTP is already listening and the start is retried until it succeeds', async () => {
    const events: string[] = []
    const flaky = worker('consumer', events, 1)
    const service = await startService({ logger, http: http(events), workers: [flaky] })
    expect(events).toEqual(['listen', 'consumer start #1'])
    await sleep(1_300) // the first retry comes after 1 s
    expect(flaky.attempts).toBe(2)
    await sleep(200)
    expect(flaky.attempts).toBe(2) // started: no further attempts
    await service.stop()
  })

  it('when stopped, then HTTP closes first, then jobs (waiting for the run in progress), then workers, then the close list in order', async () => {
    const events: string[] = []
    const job: Job = {
      name: 'slow job',
      intervalMs: 5,
      runAtStart: true,
      run: async () => {
        events.push('job run begins')
        await sleep(100)
        events.push('job run ends')
      },
    }
    const service = await startService({
      logger,
      http: http(events),
      workers: [worker('a', events)],
      jobs: [job],
      close: [async () => void events.push('close producer'), async () => void events.push('close db')],
    })
    await sleep(20) // the job's first run is in progress
    expect(await service.stop()).toBe(true)
    const tail = events.slice(events.indexOf('http close'))
    expect(tail).toEqual(['http close', 'job run ends', 'a stop', 'close producer', 'close db'])
    expect(events.filter((e) => e === 'job run begins')).toHaveLength(1) // no run after the stop
  })

  it('when a worker never manages to start, then stopping neither waits out the retries nor tries again', async () => {
    const events: string[] = []
    const down = worker('consumer', events, Number.POSITIVE_INFINITY)
    const service = await startService({ logger, http: http(events), workers: [down] })
    const began = Date.now()
    await service.stop()
    expect(Date.now() - began).toBeLessThan(1_000)
    const attempts = down.attempts
    await sleep(1_200)
    expect(down.attempts).toBe(attempts)
    expect(events).toContain('consumer stop')
  })

  it('when a part fails to close, then the parts after it still close and stop reports false; a second stop is the same stop', async () => {
    const events: string[] = []
    const service = await startService({
      logger,
      http: http(events),
      close: [
        async () => {
          throw new Error('producer flush failed')
        },
        async () => void events.push('close db'),
      ],
    })
    const first = service.stop()
    expect(service.stop()).toBe(first)
    expect(await first).toBe(false)
    expect(events).toEqual(['listen', 'http close', 'close db'])
  })
})
