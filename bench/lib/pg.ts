// PostgreSQL as the bench uses it: superuser queries on the local server, a scratch copy of the orders schema for
// the pgbench ceiling, pgbench itself, and sampling of what the server's sessions are doing.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const ordersUrl = new URL(process.env.ORDERS_DATABASE_URL ?? 'postgres://orders_svc:x@127.0.0.1:5432/trackops_orders')
export const pgHost = ordersUrl.hostname
export const pgPort = ordersUrl.port || '5432'
export const PG_ADMIN_USER = process.env.BENCH_PG_USER ?? 'postgres'

const pools = new Map<string, pg.Pool>()

export function adminPool(database: string): pg.Pool {
  let pool = pools.get(database)
  if (!pool) {
    pool = new pg.Pool({ host: pgHost, port: Number(pgPort), user: PG_ADMIN_USER, database, max: 4, application_name: 'trackops-bench' })
    pool.on('error', () => undefined)
    pools.set(database, pool)
  }
  return pool
}

export async function adminSql(database: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  return (await adminPool(database).query(text, values)).rows
}

export async function closePools() {
  await Promise.all([...pools.values()].map((p) => p.end().catch(() => undefined)))
  pools.clear()
}

function exec(cmd: string, args: string[], opts: { input?: string; onStderrLine?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let partial = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString()
      stderr += text
      if (opts.onStderrLine) {
        const lines = (partial + text).split('\n')
        partial = lines.pop() ?? ''
        for (const l of lines) opts.onStderrLine(l)
      }
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(opts.input ?? '')
  })
}

const connArgs = (database: string) => ['-h', pgHost, '-p', pgPort, '-U', PG_ADMIN_USER, database]

/**
 * A scratch database with the schema of `source` (tables, indexes, triggers, publications) and no data. The
 * ceiling runs there because every outbox row inserted into the real orders database is published by Debezium's
 * outbox connector: pgbench's rows would reach inventory as RESERVE_INVENTORY commands.
 */
export async function cloneSchema(source: string, target: string) {
  await dropDatabase(target)
  await adminSql('postgres', `CREATE DATABASE ${target}`)
  const dump = await exec('pg_dump', ['--schema-only', '--no-subscriptions', ...connArgs(source)])
  if (dump.code !== 0) throw new Error(`pg_dump ${source}: ${dump.stderr}`)
  const load = await exec('psql', ['-q', '-v', 'ON_ERROR_STOP=1', ...connArgs(target)], { input: dump.stdout })
  if (load.code !== 0) throw new Error(`loading the schema of ${source} into ${target}: ${load.stderr}`)
}

export async function dropDatabase(name: string) {
  await adminPool(name).end().catch(() => undefined)
  pools.delete(name)
  await adminSql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

export interface PgbenchResult {
  tps: number
  transactions: number
  failed: number
  /** Per-transaction latency (ms) from pgbench's transaction log. */
  latenciesMs: number[]
  command: string
  output: string
}

export async function pgbench(opts: {
  database: string
  script: string
  clients: number
  threads: number
  seconds: number
  vars?: Record<string, string>
  /** libpq PGOPTIONS for every session, e.g. '-c trackops.notify_outbox=on'. */
  pgOptions?: string
  onProgress?: (line: string) => void
}): Promise<PgbenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'trackops-pgbench-'))
  try {
    const args = [
      '-n',
      '-M', 'prepared',
      '-c', String(opts.clients),
      '-j', String(opts.threads),
      '-T', String(opts.seconds),
      '-P', '1',
      '-f', opts.script,
      '--log', `--log-prefix=${join(dir, 'tx')}`,
      ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
      ...connArgs(opts.database),
    ]
    const r = await exec('pgbench', args, { env: { PGAPPNAME: 'pgbench', ...(opts.pgOptions ? { PGOPTIONS: opts.pgOptions } : {}) }, onStderrLine: (l) => l.startsWith('progress:') && opts.onProgress?.(l) })
    if (r.code !== 0) throw new Error(`pgbench failed (${r.code}): ${r.stderr.slice(-2000)}`)
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout)?.[1] ?? NaN)
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1] ?? NaN)
    const failed = Number(/number of failed transactions: (\d+)/.exec(r.stdout)?.[1] ?? 0)
    const latenciesMs: number[] = []
    for (const f of await readdir(dir)) {
      for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
        const cols = line.split(' ')
        if (cols.length >= 6 && cols[2] !== 'failed' && cols[2] !== 'skipped') latenciesMs.push(Number(cols[2]) / 1000)
      }
    }
    return { tps, transactions, failed, latenciesMs, command: `${opts.pgOptions ? `PGOPTIONS='${opts.pgOptions}' ` : ''}pgbench ${args.join(' ')}`, output: r.stdout }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// --- what the server's sessions are doing ----------------------------------------------------------------------------

export interface ActivityShare {
  applicationName: string
  samples: number
  /** Average number of sessions per state (active, idle in transaction, idle) over the samples. */
  sessions: Record<string, number>
  /** Share of active-session samples per wait event ('CPU' when not waiting). */
  activeWaits: Record<string, number>
  /** Sessions waiting for a lock, by lock (locktype, class, object, mode): average count over the samples. */
  lockWaits: Record<string, number>
}

/** Samples pg_stat_activity every `everyMs` for sessions of the given application names until stopped. */
export function sampleActivity(applicationNames: string[], everyMs = 100) {
  const counts = new Map<string, { samples: number; states: Map<string, number>; waits: Map<string, number>; locks: Map<string, number>; active: number }>()
  for (const n of applicationNames) counts.set(n, { samples: 0, states: new Map(), waits: new Map(), locks: new Map(), active: 0 })
  let stopped = false
  const client = new pg.Client({ host: pgHost, port: Number(pgPort), user: PG_ADMIN_USER, database: 'postgres', application_name: 'trackops-bench-sampler' })
  const loop = (async () => {
    await client.connect()
    while (!stopped) {
      const started = Date.now()
      const rows = (
        await client.query<{ application_name: string; state: string | null; wait: string | null }>(
          `SELECT application_name, state, CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait
           FROM pg_stat_activity WHERE application_name = ANY($1) AND backend_type = 'client backend'`,
          [applicationNames],
        )
      ).rows
      const locks = (
        await client.query<{ application_name: string; lock: string }>(
          `SELECT a.application_name, l.locktype || ' ' || coalesce(l.classid::regclass::text, l.relation::regclass::text, '') || coalesce('/' || l.objid, '') || ' ' || l.mode AS lock
           FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.application_name = ANY($1)`,
          [applicationNames],
        )
      ).rows
      for (const l of locks) {
        const c = counts.get(l.application_name)
        if (c) c.locks.set(l.lock, (c.locks.get(l.lock) ?? 0) + 1)
      }
      for (const [name, c] of counts) {
        c.samples++
        for (const r of rows) {
          if (r.application_name !== name) continue
          const state = r.state ?? 'unknown'
          c.states.set(state, (c.states.get(state) ?? 0) + 1)
          if (state === 'active') {
            c.active++
            const wait = r.wait ?? 'CPU'
            c.waits.set(wait, (c.waits.get(wait) ?? 0) + 1)
          }
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))))
    }
  })()
  return {
    async stop(): Promise<ActivityShare[]> {
      stopped = true
      await loop.catch(() => undefined)
      await client.end().catch(() => undefined)
      return [...counts].map(([applicationName, c]) => ({
        applicationName,
        samples: c.samples,
        sessions: Object.fromEntries([...c.states].map(([k, v]) => [k, Math.round((v / Math.max(1, c.samples)) * 100) / 100])),
        activeWaits: Object.fromEntries([...c.waits].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / Math.max(1, c.active)) * 1000) / 1000])),
        lockWaits: Object.fromEntries([...c.locks].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / Math.max(1, c.samples)) * 100) / 100])),
      }))
    },
  }
}

export async function pgSettings(): Promise<Record<string, string>> {
  const names = ['shared_buffers', 'max_connections', 'synchronous_commit', 'wal_level', 'fsync', 'commit_delay', 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'effective_io_concurrency']
  const rows = await adminSql('postgres', `SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)`, [names])
  return Object.fromEntries(rows.map((r) => [r.name as string, `${r.setting as string}${r.unit ? ` ${r.unit as string}` : ''}`]))
}
