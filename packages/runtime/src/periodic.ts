// A background job that runs every `intervalMs` — at once again while a run reports more work waiting — and
// whose stop() waits for the run in progress. Used by the sweepers (reservation expiry, payment reconciliation).
import type { Logger } from 'pino'

export interface Periodic {
  stop(): Promise<void>
}

export function startPeriodic(opts: { name: string; intervalMs: number; logger: Logger; run: () => Promise<boolean> }): Periodic {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const tick = () => {
    running = (async () => {
      let more = false
      try {
        more = await opts.run()
      } catch (error) {
        opts.logger.warn({ err: error, job: opts.name }, `${opts.name} failed; will retry`)
      }
      if (!stopped) timer = setTimeout(tick, more ? 0 : opts.intervalMs)
    })()
  }
  timer = setTimeout(tick, opts.intervalMs)
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
