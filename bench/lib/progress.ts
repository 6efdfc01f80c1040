// Terminal progress: one updating line on a TTY, a line every few seconds otherwise (CI logs, pipes).
const tty = process.stderr.isTTY === true
let lastPrinted = 0
let open = false

export function progress(label: string, elapsedS: number, totalS: number, detail = '') {
  const line = `  ${label}  ${elapsedS.toFixed(0).padStart(3)}/${totalS.toFixed(0)} s  ${detail}`
  if (tty) {
    process.stderr.write(`\r\x1b[2K${line}`)
    open = true
  } else if (Date.now() - lastPrinted >= 5_000) {
    process.stderr.write(`${line}\n`)
    lastPrinted = Date.now()
  }
}

/** Ends the progress line and prints a normal one. */
export function log(message: string) {
  if (open) {
    process.stderr.write('\n')
    open = false
  }
  lastPrinted = 0
  process.stderr.write(`${message}\n`)
}

/** Calls tick every second while the promise runs. */
export async function ticking<T>(work: Promise<T>, tick: () => void): Promise<T> {
  const timer = setInterval(tick, 1_000)
  try {
    return await work
  } finally {
    clearInterval(timer)
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
