// `npm audit` at high severity: fails on any high or critical advisory. When the registry offers no audit
// endpoint (some mirrors answer 405), that is said loudly and is not counted as clean or as failed.
import { execFileSync } from 'node:child_process'

let out = ''
try {
  out = execFileSync('npm', ['audit', '--json', '--audit-level=high'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
} catch (error) {
  out = (error as { stdout?: string }).stdout ?? ''
}
const report = JSON.parse(out || '{}') as { metadata?: { vulnerabilities?: Record<string, number> }; statusCode?: number; message?: string }
const counts = report.metadata?.vulnerabilities
if (!counts) {
  console.warn(`npm audit: NOT PERFORMED — the registry's audit endpoint did not answer (HTTP ${report.statusCode ?? '?'}).`)
  console.warn('  Run `npm audit --audit-level=high` where the public registry is reachable.')
  process.exit(0)
}
const serious = (counts.high ?? 0) + (counts.critical ?? 0)
console.log(`npm audit: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`)
if (serious > 0) {
  console.error('npm audit: high-severity vulnerabilities found; run `npm audit` for details and `npm audit fix` to repair.')
  process.exit(1)
}
