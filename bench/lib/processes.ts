// The stack's processes as the bench finds them: a service's process id (the listener on its port, else its pid
// file), whether scripts/services.sh can restart it, the environment it was started with, and restarting it.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { root, testEnv, type ServiceName } from './stack.ts'

const run = promisify(execFile)

async function pidFromFile(name: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(`${root}.stack/run/${name}.pid`, 'utf8')).trim())
    process.kill(pid, 0)
    return pid
  } catch {
    return null
  }
}

const portOf = (name: string): number | null => {
  const u = (testEnv.urls as Record<string, string | undefined>)[name]
  return u ? Number(new URL(u).port) : null
}

/** The process listening on a TCP port of this machine (ss), or null. */
export async function listenerPid(port: number): Promise<number | null> {
  try {
    const { stdout } = await run('ss', ['-Hltnp', `sport = :${port}`])
    const m = /pid=(\d+)/.exec(stdout)
    return m?.[1] ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** A service's process: the one listening on its port (pid files go stale when a service is started by hand). */
export async function pidOf(name: string): Promise<number | null> {
  const port = portOf(name)
  return (port ? await listenerPid(port) : null) ?? (await pidFromFile(name))
}

/** scripts/services.sh can restart a service only when its pid file names the process that serves the port. */
export async function restartable(name: ServiceName): Promise<string | null> {
  const port = portOf(name) as number
  const listening = await listenerPid(port)
  const fromFile = await pidFromFile(name)
  if (listening !== null && listening !== fromFile) {
    return `${name} on :${port} is process ${listening}, but .stack/run/${name}.pid names ${fromFile ?? 'no live process'}: it was not started by scripts/services.sh, so the bench cannot restart it`
  }
  return null
}

/** The environment a process was started with (not what it loaded later from --env-file). */
export async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8')
  const env: Record<string, string> = {}
  for (const entry of raw.split('\0')) {
    const i = entry.indexOf('=')
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1)
  }
  return env
}

/** Restarts one service through scripts/services.sh with exactly this environment. */
export async function restartService(name: ServiceName, env: Record<string, string>) {
  await run('bash', ['scripts/services.sh', 'restart', name], { cwd: root, env, timeout: 240_000 })
}
