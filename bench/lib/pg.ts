// PostgreSQL as the bench uses it: superuser queries on the local server, a scratch copy of the orders schema for
// the pgbench ceiling, pgbench itself, and the server's settings.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const ordersUrl = new URL(process.env.ORDERS_DATABASE_URL ?? 'postgres://orders_svc:x@127.0.0.1:5432/trackops_orders')
export const pgHost = ordersUrl.hostname
export const pgPort = ordersUrl.port || '5432'
export const PG_ADMIN_USER = process.env.BENCH_PG_USER ?? 'postgres'

/** The databases of the services that own data (each has its outbox and inbox). */
export const serviceDatabases = ['trackops_orders', 'trackops_inventory', 'trackops_payments'] as const

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

export async function pgSettings(): Promise<Record<string, string>> {
  const names = ['shared_buffers', 'max_connections', 'synchronous_commit', 'wal_level', 'fsync', 'commit_delay', 'max_wal_size', 'checkpoint_timeout', 'work_mem', 'effective_io_concurrency']
  const rows = await adminSql('postgres', `SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)`, [names])
  return Object.fromEntries(rows.map((r) => [r.name as string, `${r.setting as string}${r.unit ? ` ${r.unit as string}` : ''}`]))
}
