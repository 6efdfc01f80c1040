// Prints a bearer token signed with the local secret: npm run token -- --role admin [--sub <uuid>] [--ttl 3600]
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import { signToken, roles, DEV_JWT_SECRET, type Role } from '@trackops/http'

const { values } = parseArgs({ options: { role: { type: 'string', default: 'admin' }, sub: { type: 'string' }, ttl: { type: 'string', default: '86400' } } })
const role = values.role as Role
if (!roles.includes(role)) {
  console.error(`--role must be one of ${roles.join(', ')}`)
  process.exit(2)
}
const secret = process.env.JWT_SECRET ?? (process.env.TRACKOPS_DEV_MODE === 'true' ? DEV_JWT_SECRET : undefined)
if (!secret) {
  console.error('No JWT_SECRET in the environment and TRACKOPS_DEV_MODE is not true: nothing to sign with.')
  process.exit(2)
}
const sub = values.sub ?? (role === 'customer' ? randomUUID() : `${role}-${randomUUID().slice(0, 8)}`)
process.stdout.write(
  (await signToken({ secret, issuer: process.env.JWT_ISSUER ?? 'trackops-local', audience: process.env.JWT_AUDIENCE ?? 'trackops', sub, roles: [role], expiresInSeconds: Number(values.ttl) })) + '\n',
)
