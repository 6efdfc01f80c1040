// Keeps the pgbench ceiling honest: runs the orders service's own placeOrder use case once against the scratch
// database with a query log, and compares its statements (verb + table, in order) with bench/sql/place-order.sql.
// A service change that adds, drops or reorders a statement shows up in the report instead of going unnoticed.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import pino from 'pino'
import { placeOrder } from '../../services/orders/src/place-order.ts'
import { newOrderOf } from '../../services/orders/src/order-request.ts'
import type { Db } from '../../services/orders/src/order-store.ts'
import { createSaga } from '../../services/orders/src/saga/create-saga.ts'
import { PG_ADMIN_USER, pgHost, pgPort } from './pg.ts'
import { address, MARKER_CUSTOMER } from './stack.ts'

/** "insert outbox", "select catalog_products": what a statement does to which table. */
export function shapeOf(statement: string): string | null {
  const s = statement.replace(/--.*$/gm, '').replace(/\s+/g, ' ').trim().toLowerCase()
  if (!s || s.startsWith('\\') || /^(begin|commit|end|rollback)\b/.test(s)) return null
  const table = (re: RegExp) => re.exec(s)?.[1] ?? '?'
  if (s.startsWith('insert')) return `insert ${table(/^insert into "?(\w+)"?/)}${/on conflict/.test(s) ? ' on conflict' : ''}`
  if (s.startsWith('update')) return `update ${table(/^update "?(\w+)"?/)}`
  if (s.startsWith('delete')) return `delete ${table(/^delete from "?(\w+)"?/)}`
  if (s.startsWith('select')) return `select ${table(/ from "?(\w+)"?/)}`
  return s.split(' ')[0] ?? null
}

/** The statements of a pgbench script: SQL commands end with ';' at the end of a line. */
export async function scriptShapes(path: string): Promise<string[]> {
  const text = (await readFile(path, 'utf8')).split('\n').filter((l) => !l.trim().startsWith('\\') && !l.trim().startsWith('--')).join('\n')
  return text.split(/;\s*$/m).map(shapeOf).filter((s): s is string => s !== null)
}

export interface Fidelity {
  service: string[]
  script: string[]
  matches: boolean
  /** Bytes of the outbox payloads the service wrote, to compare with the script's literals. */
  outboxPayloadBytes: number[]
}

/** Runs placeOrder (the service's code, unchanged) in `database` and returns its statement shapes. */
export async function serviceShapes(database: string, productId: string, scriptPath: string): Promise<Fidelity> {
  const statements: string[] = []
  const pool = new pg.Pool({ host: pgHost, port: Number(pgPort), user: PG_ADMIN_USER, database, max: 1 })
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') statements.push(event.query.sql)
    },
  }) as unknown as Db
  try {
    const checked = newOrderOf({ customerId: MARKER_CUSTOMER, address, items: [{ productId, quantity: 1 }] })
    if (!checked.ok) throw new Error(`the bench's order is invalid: ${JSON.stringify(checked.errors)}`)
    const now = () => new Date()
    const saga = createSaga({ db, logger: pino({ level: 'silent' }), now, newId: randomUUID, stepTimeoutSeconds: 30 })
    await placeOrder({ db, now, newId: randomUUID, saga }, { order: checked.value, cause: 'customer', ctx: { correlationId: randomUUID() } })
    const payloads = await pool.query<{ n: number }>(`SELECT octet_length(payload) AS n FROM outbox ORDER BY seq`)
    const service = statements.map(shapeOf).filter((s): s is string => s !== null)
    const script = await scriptShapes(scriptPath)
    return { service, script, matches: JSON.stringify(service) === JSON.stringify(script), outboxPayloadBytes: payloads.rows.map((r) => r.n) }
  } finally {
    await db.destroy()
  }
}
