// Development mode only: the sign-in page's "sign in as customer / operator / admin" buttons, so a newcomer
// needs no terminal. The console signs the token with the local secret, exactly as `npm run token` does.
// Outside development mode the routes are never registered: they answer 404 like any unknown path, and the
// sign-in page, which asks GET /api/dev/tokens first, shows no buttons.
import { randomUUID } from 'node:crypto'
import { Type } from 'typebox'
import { AppError, roles, signToken, type App, type Role } from '@trackops/http'
import type { ConsoleConfig } from './config.ts'

const TTL_SECONDS = 8 * 3600
const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const STAFF_SUB = '^[A-Za-z0-9._@-]{1,100}$'

const Offer = Type.Object({
  roles: Type.Array(Type.Enum([...roles])),
  ttlSeconds: Type.Integer(),
  note: Type.String(),
})
const Minted = Type.Object({
  token: Type.String(),
  role: Type.Enum([...roles]),
  sub: Type.String({ description: 'A new customer id (UUID) for customers unless one was given; operator-…/admin-… for staff.' }),
  expiresAt: Type.String({ format: 'date-time' }),
})

/** Registers the token routes when development mode is on and there is a secret to sign with; says whether it did. */
export function registerDevTokens(
  app: App,
  config: Pick<ConsoleConfig, 'TRACKOPS_DEV_MODE' | 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>,
  newId: () => string = randomUUID,
): boolean {
  // JWT_JWKS_URL alone (an external issuer) leaves nothing to sign with: no buttons then either.
  if (!config.TRACKOPS_DEV_MODE || !config.JWT_SECRET) return false
  const secret = config.JWT_SECRET
  const tags = ['development']
  const open = { auth: 'public' as const }

  app.get('/api/dev/tokens', {
    config: open,
    schema: { tags, summary: 'Development mode only: the roles the sign-in page may sign in as (404 outside development mode)', response: { 200: Offer } },
  }, async () => ({
    roles: [...roles],
    ttlSeconds: TTL_SECONDS,
    note: 'TRACKOPS_DEV_MODE=true: tokens are signed with the local development secret. Never enable this in production.',
  }))

  app.post('/api/dev/tokens', {
    config: open,
    schema: {
      tags,
      summary: 'Development mode only: a bearer token for a role, signed with the local secret (404 outside development mode)',
      body: Type.Object({
        role: Type.Enum([...roles]),
        sub: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Customers: their customer id (UUID). Staff: any name of letters, digits and . _ @ -' })),
      }, { additionalProperties: false }),
      response: { 200: Minted },
    },
  }, async (req) => {
    const role: Role = req.body.role
    const given = req.body.sub
    if (given !== undefined && !new RegExp(role === 'customer' ? UUID : STAFF_SUB).test(given)) {
      throw new AppError('dev.validation', 'The subject is invalid.', {
        errors: [{ field: 'sub', message: role === 'customer' ? 'must be a customer id (UUID)' : 'must be 1 to 100 letters, digits or . _ @ -' }],
      })
    }
    const sub = given ?? (role === 'customer' ? newId() : `${role}-${newId().slice(0, 8)}`)
    const token = await signToken({ secret, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, sub, roles: [role], expiresInSeconds: TTL_SECONDS })
    req.log.child({ audit: true, actor: sub, action: 'dev.token' }).info({ role }, 'audit dev.token: development sign-in')
    return { token, role, sub, expiresAt: new Date(Date.now() + TTL_SECONDS * 1000).toISOString() }
  })
  return true
}
