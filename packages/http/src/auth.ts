import { createRemoteJWKSet, jwtVerify, SignJWT, errors as joseErrors, type JWTVerifyGetKey } from 'jose'
import { AppError } from './errors.ts'

export type Role = 'customer' | 'operator' | 'admin'
export const roles: readonly Role[] = ['customer', 'operator', 'admin']

export interface Principal {
  sub: string
  roles: Role[]
  /** Service-to-service callers carry the `service` role claim instead of a person's roles. */
  service?: string
}

export interface AuthSettings {
  secret?: string
  jwksUrl?: string
  issuer: string
  audience: string
  /** Bounded clock skew for exp/nbf, seconds. */
  clockToleranceSeconds?: number
}

export type Verifier = (authorization: string | undefined) => Promise<Principal>

// Verified tokens are remembered (bounded, and never past their own expiry) so a client's repeated requests
// cost one map lookup instead of an HMAC or signature check each; the HMAC key is imported once.
const VERIFIED_CACHE_MAX = 10_000
const VERIFIED_CACHE_SECONDS = 60

export function createVerifier(settings: AuthSettings): Verifier {
  const hmacKey = settings.jwksUrl
    ? undefined
    : crypto.subtle.importKey('raw', new TextEncoder().encode(settings.secret ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  const jwks: JWTVerifyGetKey | undefined = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : undefined
  const algorithms = settings.jwksUrl ? ['RS256', 'ES256'] : ['HS256']
  const verified = new Map<string, { principal: Principal; until: number }>()
  return async (authorization) => {
    const match = /^Bearer\s+([\w-]+\.[\w-]+\.[\w-]+)$/i.exec(authorization ?? '')
    if (!match?.[1]) throw new AppError('auth.unauthorized', 'A bearer token is required (Authorization: Bearer <jwt>). Local development: npm run token -- --role admin', { headers: { 'www-authenticate': 'Bearer' } })
    const token = match[1]
    const known = verified.get(token)
    if (known && known.until > Date.now()) return known.principal
    try {
      const options = { issuer: settings.issuer, audience: settings.audience, algorithms, clockTolerance: settings.clockToleranceSeconds ?? 30, requiredClaims: ['sub', 'exp'] }
      const { payload } = jwks ? await jwtVerify(token, jwks, options) : await jwtVerify(token, await hmacKey!, options)
      const claimed = Array.isArray(payload.roles) ? payload.roles : typeof payload.role === 'string' ? [payload.role] : []
      const valid = claimed.filter((r): r is Role => roles.includes(r as Role))
      const principal = { sub: String(payload.sub), roles: valid }
      if (verified.size >= VERIFIED_CACHE_MAX) verified.delete(verified.keys().next().value as string)
      verified.set(token, { principal, until: Math.min(Date.now() + VERIFIED_CACHE_SECONDS * 1000, (payload.exp ?? 0) * 1000) })
      return principal
    } catch (error) {
      const reason =
        error instanceof joseErrors.JWTExpired ? 'the token has expired'
        : error instanceof joseErrors.JWTClaimValidationFailed ? `the token's ${error.claim} claim is not accepted`
        : error instanceof joseErrors.JWSSignatureVerificationFailed ? 'the token signature is invalid'
        : 'the token could not be verified'
      throw new AppError('auth.unauthorized', `Unauthorized: ${reason}.`, { cause: error, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })
    }
  }
}

/** Signs a token for the local shared secret (tests and `npm run token`). */
export async function signToken(opts: {
  secret: string
  issuer: string
  audience: string
  sub: string
  roles: Role[]
  expiresInSeconds?: number
  notBefore?: number
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ roles: opts.roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.sub)
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresInSeconds ?? 3600))
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore)
  return jwt.sign(new TextEncoder().encode(opts.secret))
}
