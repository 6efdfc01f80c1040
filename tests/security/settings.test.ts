// Every setting a process reads is in .env.example, and .env.example names nothing no process reads: a newcomer
// sees every knob in one file, and a renamed setting cannot leave a stale line behind.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ordersConfigSchema } from '../../services/orders/src/config.ts'
import { inventoryConfigSchema } from '../../services/inventory/src/config.ts'
import { paymentsConfigSchema } from '../../services/payments/src/config.ts'
import { relayConfigSchema } from '../../services/relay/src/config.ts'
import { consoleConfigSchema } from '../../console/src/server/config.ts'

const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
/** `NAME=value` and the commented-out `# NAME=default`. */
const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => String(m[1])))
const read = new Set([ordersConfigSchema, inventoryConfigSchema, paymentsConfigSchema, relayConfigSchema, consoleConfigSchema].flatMap((s) => Object.keys(s.properties)))

describe('.env.example', () => {
  it('when the settings of every process are listed, then each is in .env.example', () => {
    expect([...read].filter((name) => !documented.has(name))).toEqual([])
  })

  it('when .env.example is read, then every setting it names is one a process reads', () => {
    expect([...documented].filter((name) => !read.has(name))).toEqual([])
  })
})
