// A background job that runs every `intervalMs` — at once again while a run reports more work waiting — and
// whose stop() waits for the run in progress. Every periodic job of a process runs through it (runService's `jobs`).
import type { Logger } from 'pino'

export interface Periodic {
  stop(): Promise<void>
}

export function startPeriodic(opts: { name: string; intervalMs: number; logger: Logger; run: (signal: AbortSignal) => Promise<unknown>; runAtStart?: boolean }): Periodic {
  // Aborted by stop(): a long run (a sweep of a large backlog) may end early instead of holding up a shutdown.
  const stopping = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const tick = () => {
    running = (async () => {
      let more = false
      try {
        more = (await opts.run(stopping.signal)) === true
      } catch (error) {
        opts.logger.warn({ err: error, job: opts.name }, `${opts.name} failed; will retry`)
      }
      if (!stopping.signal.aborted) timer = setTimeout(tick, more ? 0 : opts.intervalMs)
    })()
  }
  timer = setTimeout(tick, opts.runAtStart ? 0 : opts.intervalMs)
  return {
    async stop() {
      stopping.abort()
      clearTimeout(timer)
      await running
    },
  }
}
