// Writes each service's OpenAPI document to <dir>/<service>.json, for `npm run check` to lint (redocly.yaml).
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { buildServiceApps, serviceNames } from './documents.ts'

const dir = process.argv[2]
if (!dir) throw new Error('usage: node tests/contracts/write-openapi.ts <dir>')
await mkdir(dir, { recursive: true })
const built = await buildServiceApps()
try {
  for (const name of serviceNames) await writeFile(path.join(dir, `${name}.json`), JSON.stringify(built.apps[name].swagger(), null, 2))
} finally {
  await built.close()
}
