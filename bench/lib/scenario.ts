// What every scenario gets and gives back. A scenario renders its own Markdown section; run.ts assembles them.
import type { ResourceReport } from './resources.ts'

export type ScenarioName = 'place-order' | 'read-order' | 'saga' | 'cdc-lag'
export const scenarioNames: ScenarioName[] = ['place-order', 'read-order', 'saga', 'cdc-lag']

export interface Settings {
  mode: 'default' | 'quick' | 'long'
  products: number
  profile: boolean
  placeOrder: { connections: number; seconds: number; warmupSeconds: number; pgbenchThreads: number; customers: number; profileSeconds: number }
  readOrder: { connections: number; seconds: number; warmupSeconds: number; hotIds: number; coldIds: number; pgbenchThreads: number }
  saga: { rates: number[]; seconds: number; drainSeconds: number; strategies: ('debezium' | 'outbox')[]; warmupOrders: number }
  cdcLag: { updatesPerSecond: number; seconds: number; rows: number; backgroundOrdersPerSecond: number }
}

export function settingsFor(mode: Settings['mode']): Settings {
  const base: Settings = {
    mode,
    products: 16,
    profile: false,
    placeOrder: { connections: 16, seconds: 15, warmupSeconds: 3, pgbenchThreads: 2, customers: 2000, profileSeconds: 10 },
    readOrder: { connections: 16, seconds: 10, warmupSeconds: 2, hotIds: 8, coldIds: 5000, pgbenchThreads: 2 },
    saga: { rates: [10, 20, 50, 100, 200], seconds: 20, drainSeconds: 30, strategies: ['debezium', 'outbox'], warmupOrders: 10 },
    cdcLag: { updatesPerSecond: 100, seconds: 20, rows: 500, backgroundOrdersPerSecond: 50 },
  }
  if (mode === 'quick') {
    return {
      ...base,
      placeOrder: { ...base.placeOrder, seconds: 3, warmupSeconds: 1, customers: 300, profileSeconds: 3 },
      readOrder: { ...base.readOrder, seconds: 3, warmupSeconds: 1, coldIds: 300 },
      saga: { ...base.saga, rates: [20], seconds: 3, drainSeconds: 20, warmupOrders: 3 },
      cdcLag: { ...base.cdcLag, updatesPerSecond: 20, seconds: 3, rows: 60, backgroundOrdersPerSecond: 10 },
    }
  }
  if (mode === 'long') {
    return {
      ...base,
      placeOrder: { ...base.placeOrder, seconds: 60, warmupSeconds: 5, customers: 6000 },
      readOrder: { ...base.readOrder, seconds: 30, coldIds: 20000 },
      saga: { ...base.saga, rates: [10, 20, 30, 50, 75, 100, 150, 200, 300, 400], seconds: 60, drainSeconds: 60 },
      cdcLag: { ...base.cdcLag, seconds: 60, rows: 2000 },
    }
  }
  return base
}

export interface Check {
  scenario: ScenarioName
  what: string
  value: string
  ceiling?: string
  ratio?: number | null
  target: string
  met: boolean | null
}

export interface ScenarioResult {
  name: ScenarioName
  startedAt: string
  seconds: number
  checks: Check[]
  /** Measured explanations, written into the report. */
  findings: string[]
  resources: Record<string, ResourceReport>
  /** file suffix → SVG text */
  charts: Record<string, { title: string; svg: string }>
  markdown: string
  data: unknown
  error?: string
}

/** `startedAt` and `seconds` of a scenario's result, taken when the result is built. */
export const timedSince = (startedAt: Date): Pick<ScenarioResult, 'startedAt' | 'seconds'> => ({ startedAt: startedAt.toISOString(), seconds: (Date.now() - startedAt.getTime()) / 1000 })

export interface ScenarioContext {
  settings: Settings
  products: string[]
  /** The stack idling before the scenarios (no bench load): what every process uses anyway. */
  baseline: ResourceReport
  /** Where to keep artefacts of this run (profiles). */
  artefactPrefix: string
}
