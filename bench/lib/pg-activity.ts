// What the server's sessions are doing: pg_stat_activity and pg_locks sampled for the sessions of some applications,
// as the share of time each spends in each state, wait event and lock wait.
import pg from 'pg'
import { PG_ADMIN_USER, pgHost, pgPort } from './pg.ts'

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
