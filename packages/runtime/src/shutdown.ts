import type { Logger } from 'pino'

/** Graceful shutdown: stop taking requests, then run the closers in order; exits non-zero if one fails. */
export function onShutdown(logger: Logger, closers: (() => Promise<unknown>)[]) {
  let closing = false
  const stop = async (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'shutting down')
    let code = 0
    for (const close of closers) {
      try {
        await close()
      } catch (error) {
        code = 1
        logger.error({ err: error }, 'error during shutdown')
      }
    }
    process.exit(code)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}
