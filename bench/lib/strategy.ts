// Switching the publishing strategy the services run with, always back to what was running before: the Debezium
// outbox connectors paused or resumed through Kafka Connect, the services restarted with EVENT_PUBLISHING_STRATEGY.
import { readFile } from 'node:fs/promises'
import { log, sleep } from './progress.ts'
import { environOf, pidOf, restartService } from './processes.ts'
import { getJson, root, services, testEnv, waitForServices, type ServiceName } from './stack.ts'

async function dotenv(): Promise<Record<string, string>> {
  try {
    const env: Record<string, string> = {}
    for (const line of (await readFile(`${root}.env`, 'utf8')).split('\n')) {
      const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line)
      if (m?.[1]) env[m[1]] = (m[2] ?? '').replace(/^['"]|['"]$/g, '')
    }
    return env
  } catch {
    return {}
  }
}

export type Strategy = 'debezium' | 'outbox'

/** The strategy the relay runs with: its start environment, else .env, else the default. */
export async function runningStrategy(): Promise<Strategy> {
  const pid = (await pidOf('relay')) ?? (await pidOf('orders'))
  const fromProcess = pid ? (await environOf(pid).catch(() => ({}) as Record<string, string>)).EVENT_PUBLISHING_STRATEGY : undefined
  const value = fromProcess ?? (await dotenv()).EVENT_PUBLISHING_STRATEGY ?? 'debezium'
  return value === 'outbox' ? 'outbox' : 'debezium'
}

// The Debezium outbox connectors, paused and resumed through Kafka Connect.
export const outboxConnectors = ['trackops-orders-outbox', 'trackops-inventory-outbox', 'trackops-payments-outbox']

export async function connectorStates(): Promise<Record<string, string>> {
  const r = await getJson<Record<string, { status?: { connector?: { state?: string } } }>>(`${testEnv.connectUrl}/connectors?expand=status`)
  if (r.status !== 200) throw new Error(`Kafka Connect answered ${r.status}`)
  return Object.fromEntries(Object.entries(r.body).map(([name, v]) => [name, v.status?.connector?.state ?? 'UNKNOWN']))
}

async function connector(name: string, action: 'pause' | 'resume') {
  const res = await fetch(`${testEnv.connectUrl}/connectors/${name}/${action}`, { method: 'PUT', signal: AbortSignal.timeout(10_000) })
  if (res.status >= 300) throw new Error(`${action} ${name}: ${res.status} ${await res.text()}`)
}

async function waitForConnectorState(names: string[], state: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const states = await connectorStates()
    if (names.every((n) => states[n] === state)) return
    if (Date.now() > deadline) throw new Error(`connectors not ${state} after ${timeoutMs / 1000} s: ${JSON.stringify(states)}`)
    await sleep(500)
  }
}

export interface StackSnapshot {
  strategy: Strategy
  connectors: Record<string, string>
  envs: Partial<Record<ServiceName, Record<string, string>>>
}

export async function snapshot(): Promise<StackSnapshot> {
  const envs: StackSnapshot['envs'] = {}
  for (const s of services) {
    const pid = await pidOf(s)
    if (pid) envs[s] = await environOf(pid)
  }
  return { strategy: await runningStrategy(), connectors: await connectorStates(), envs }
}

/**
 * Runs the services with `target`. Under outbox the Debezium outbox connectors are paused first (otherwise both
 * publish); under debezium they are resumed. Services keep the rest of the environment they were started with.
 */
// What the bench changed, so that restore() puts back only that (and never restarts what others started).
const touchedServices = new Set<ServiceName>()
const touchedConnectors = new Set<string>()

export async function switchStrategy(target: Strategy, base: StackSnapshot) {
  const present = outboxConnectors.filter((c) => c in base.connectors)
  for (const c of present) touchedConnectors.add(c)
  if (target === 'outbox') {
    for (const c of present) await connector(c, 'pause')
    await waitForConnectorState(present, 'PAUSED')
  } else {
    for (const c of present) await connector(c, 'resume')
    await waitForConnectorState(present, 'RUNNING')
  }
  for (const s of services) {
    const env = { ...(base.envs[s] ?? process.env), EVENT_PUBLISHING_STRATEGY: target } as Record<string, string>
    log(`  restarting ${s} with EVENT_PUBLISHING_STRATEGY=${target}`)
    touchedServices.add(s)
    await restartService(s, env)
  }
  await waitForServices()
}

/** Puts back what switchStrategy changed: the connector states and each restarted service's start environment. */
export async function restore(base: StackSnapshot) {
  const now = await snapshot()
  for (const name of touchedConnectors) {
    const state = base.connectors[name]
    if (now.connectors[name] === state) continue
    if (state === 'RUNNING') await connector(name, 'resume')
    if (state === 'PAUSED') await connector(name, 'pause')
  }
  touchedConnectors.clear()
  for (const s of services) {
    const started = base.envs[s]
    if (!touchedServices.has(s) || !started || JSON.stringify(started) === JSON.stringify(now.envs[s])) continue
    // A service started without the variable read it from .env (as this process did) or used the default. It is
    // passed explicitly: the supervisor keeps a restarted process's variables, so leaving it out would keep `outbox`.
    const strategy = started.EVENT_PUBLISHING_STRATEGY ?? process.env.EVENT_PUBLISHING_STRATEGY ?? 'debezium'
    log(`  restoring ${s} (EVENT_PUBLISHING_STRATEGY=${strategy})`)
    await restartService(s, { ...started, EVENT_PUBLISHING_STRATEGY: strategy })
  }
  touchedServices.clear()
  await waitForServices()
}
