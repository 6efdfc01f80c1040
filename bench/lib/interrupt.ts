// Putting things back on Ctrl-C: work registered while the bench changes the stack (restoring it, dropping scratch
// databases), run in reverse order if the bench is interrupted.
import { log } from './progress.ts'

const interruptHooks = new Set<() => Promise<unknown>>()

/** Registers work that must run if the bench is interrupted (restoring the stack); returns the unregister. */
export function onInterrupt(hook: () => Promise<unknown>): () => void {
  interruptHooks.add(hook)
  return () => interruptHooks.delete(hook)
}

export async function runInterruptHooks() {
  for (const hook of [...interruptHooks].reverse()) {
    try {
      await hook()
    } catch (error) {
      log(`  ! cleanup failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  interruptHooks.clear()
}
