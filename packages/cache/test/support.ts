// Real Redis for the cache tests: unique key prefixes per run, and a way to take Redis down for a moment.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { createRedis, type Redis } from '@trackops/runtime'
import { testEnv } from '../../../tests/support/env.ts'

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const redisUrl = testEnv.redisUrl
const runId = randomUUID().slice(0, 8)
export const uniquePrefix = (what: string) => `test:cache:${runId}:${what}:${randomUUID().slice(0, 8)}:`

export function connect(name: string): Redis {
  const redis = createRedis(redisUrl, name)
  redis.on('error', () => undefined) // expected while a test stops Redis
  return redis
}

export const connected = (redis: Redis) => eventually(() => redis.status === 'ready', 10_000, 'a Redis connection')

/** Cuts this client off while Redis itself keeps running (and keeps its data): a network partition. */
export async function partition(redis: Redis) {
  redis.disconnect()
  await eventually(() => redis.status === 'end', 5_000, 'the connection to close')
}

export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const ping = () => {
  try {
    return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG'
  } catch {
    return false
  }
}

/** Other engineers share this Redis: callers must call startRedis in a finally/afterAll. */
export async function stopRedis() {
  try {
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave'], { stdio: 'ignore' })
  } catch {
    // shutdown closes the connection before answering
  }
  await eventually(() => !ping(), 10_000, 'Redis to stop')
}

export async function startRedis() {
  if (ping()) return
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/var/lib/redis', '--logfile', '/var/log/redis/ci.log'], { stdio: 'ignore' })
  await eventually(() => ping(), 10_000, 'Redis to start')
}
