// Lints the AsyncAPI document the relay serves with the AsyncAPI parser, for `npm run check`: prints every
// diagnostic and fails on errors and warnings (the test suite checks the rest: packages/contracts/test/asyncapi.test.ts).
import { Parser } from '@asyncapi/parser'
import { buildAsyncApi } from '@trackops/contracts'

const severities = ['error', 'warning', 'information', 'hint'] as const
const { diagnostics } = await new Parser().parse(JSON.stringify(buildAsyncApi('check')))
for (const d of diagnostics) console.log(`asyncapi ${severities[d.severity]} ${d.code} at /${d.path.join('/')}: ${d.message}`)
const failing = diagnostics.filter((d) => d.severity <= 1).length
console.log(`AsyncAPI document: ${failing ? `${failing} errors or warnings` : 'valid'} (${diagnostics.length} diagnostics in all)`)
process.exit(failing ? 1 : 0)
