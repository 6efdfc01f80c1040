// The machine, the versions of everything measured, and the settings that shape the figures.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { availableParallelism, release, totalmem } from 'node:os'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { adminSql, pgSettings } from './pg.ts'
import { getJson, root, testEnv } from './stack.ts'
import { environOf, pidOf } from './processes.ts'

const run = promisify(execFile)

export interface Environment {
  machine: { cpuModel: string; cores: number; memoryGiB: number; kernel: string }
  versions: Record<string, string>
  postgres: Record<string, string>
  services: Record<string, string>
  git: string
}

async function safe<T>(f: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await f()
  } catch {
    return fallback
  }
}

async function kafkaBrokerVersion(): Promise<string> {
  const pid = await pidOf('kafka')
  if (!pid) return 'unknown'
  const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
  const cp = cmd[cmd.indexOf('-cp') + 1] ?? ''
  for (const dir of cp.split(':').map((p) => p.replace(/\/\*$/, ''))) {
    const jar = (await readdir(dir).catch(() => [] as string[])).map((f) => /^kafka-server-([\d.]+)\.jar$/.exec(f) ?? /^kafka_[\d.]+-([\d.]+)\.jar$/.exec(f)).find(Boolean)
    if (jar?.[1]) return jar[1]
  }
  return 'unknown'
}

export async function describeEnvironment(): Promise<Environment> {
  const cpuinfo = await safe(() => readFile('/proc/cpuinfo', 'utf8'), '')
  const versions: Record<string, string> = {
    node: process.version,
    postgresql: await safe(async () => String((await adminSql('postgres', 'SHOW server_version'))[0]?.server_version), 'unknown'),
    'kafka broker': await safe(kafkaBrokerVersion, 'unknown'),
    'kafka connect': await safe(async () => (await getJson<{ version?: string }>(`${testEnv.connectUrl}/`)).body.version ?? 'unknown', 'unreachable'),
    debezium: await safe(
      async () =>
        (await getJson<{ class: string; version: string }[]>(`${testEnv.connectUrl}/connector-plugins`)).body
          .filter((p) => /debezium/i.test(p.class))
          .map((p) => `${p.class.split('.').pop() ?? p.class} ${p.version}`)
          .join(', ') || 'not installed',
      'unreachable',
    ),
    redis: await safe(async () => {
      const r = new Redis(testEnv.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
      await r.connect()
      const info = await r.info('server')
      r.disconnect()
      return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
    }, 'unreachable'),
    autocannon: await safe(async () => (JSON.parse(await readFile(`${root}node_modules/autocannon/package.json`, 'utf8')) as { version: string }).version, 'unknown'),
    pgbench: await safe(async () => (await run('pgbench', ['--version'])).stdout.trim(), 'unknown'),
  }
  const services: Record<string, string> = {}
  for (const name of ['orders', 'inventory', 'payments', 'relay']) {
    const pid = await pidOf(name)
    if (!pid) {
      services[name] = 'not running'
      continue
    }
    const env = await safe(() => environOf(pid), {} as Record<string, string>)
    const keys = ['EVENT_PUBLISHING_STRATEGY', 'LOG_LEVEL', 'RATE_LIMIT_ENABLED', 'RELAY_POLL_MS', 'NODE_OPTIONS']
    const set = keys.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`)
    services[name] = `pid ${pid}${set.length ? `, ${set.join(', ')}` : ''} (plus .env)`
  }
  let git = 'unknown'
  try {
    const head = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim()
    const dirty = (await run('git', ['status', '--porcelain'], { cwd: root })).stdout.trim() !== ''
    git = `${head}${dirty ? ' with uncommitted changes' : ''}`
  } catch {
    /* not a git checkout */
  }
  return {
    machine: {
      cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      kernel: release(),
    },
    versions,
    postgres: await safe(pgSettings, {}),
    services,
    git,
  }
}
