// The signed-in user: a pasted bearer token kept in sessionStorage (gone when the tab closes). Who they are is
// read from the JWT payload for display and for hiding what they cannot do; the APIs check the signature.
import { useEffect, useState } from 'preact/hooks'

export type Role = 'customer' | 'operator' | 'admin'
const ROLES: Role[] = ['customer', 'operator', 'admin']
const KEY = 'trackops.token'

export interface Session {
  token: string
  sub: string
  roles: Role[]
  /** The strongest role: admin, else operator, else customer. */
  role: Role
  expiresAt: Date | null
}

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=')
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
  return new TextDecoder().decode(bytes)
}

/** A session from a token, or the reason it cannot be one. */
export function parseToken(raw: string, now = Date.now()): Session | { error: string } {
  const token = raw.trim().replace(/^Bearer\s+/i, '')
  const parts = token.split('.')
  if (parts.length !== 3 || parts.some((p) => !/^[\w-]+$/.test(p))) return { error: 'This is not a JWT (three base64url parts separated by dots).' }
  let payload: { sub?: unknown; roles?: unknown; role?: unknown; exp?: unknown }
  try {
    payload = JSON.parse(base64UrlDecode(parts[1] as string))
  } catch {
    return { error: 'The token payload is not readable JSON.' }
  }
  if (typeof payload.sub !== 'string' || !payload.sub) return { error: 'The token has no subject (sub claim).' }
  const claimed = Array.isArray(payload.roles) ? payload.roles : typeof payload.role === 'string' ? [payload.role] : []
  const roles = claimed.filter((r): r is Role => ROLES.includes(r as Role))
  if (!roles.length) return { error: 'The token carries no TrackOps role (customer, operator or admin).' }
  const expiresAt = typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null
  if (expiresAt && expiresAt.getTime() <= now) return { error: `The token expired at ${expiresAt.toLocaleString()}. Create a new one.` }
  const role: Role = roles.includes('admin') ? 'admin' : roles.includes('operator') ? 'operator' : 'customer'
  return { token, sub: payload.sub, roles, role, expiresAt }
}

// Read on first use, so modules importing this one load outside a browser too (unit tests).
let current: Session | null | undefined
const listeners = new Set<() => void>()

function load(): Session | null {
  const stored = sessionStorage.getItem(KEY)
  if (!stored) return null
  const parsed = parseToken(stored)
  if ('error' in parsed) {
    sessionStorage.removeItem(KEY)
    return null
  }
  return parsed
}
export const getSession = (): Session | null => (current === undefined ? (current = load()) : current)

export function signIn(token: string): Session | { error: string } {
  const parsed = parseToken(token)
  if ('error' in parsed) return parsed
  sessionStorage.setItem(KEY, parsed.token)
  current = parsed
  listeners.forEach((l) => l())
  return parsed
}

export function signOut() {
  sessionStorage.removeItem(KEY)
  current = null
  listeners.forEach((l) => l())
}

export function useSession(): Session | null {
  const [, setTick] = useState(0)
  useEffect(() => {
    const l = () => setTick((t) => t + 1)
    listeners.add(l)
    return () => listeners.delete(l)
  }, [])
  return getSession()
}

export const isStaff = (s: Session | null) => !!s && (s.roles.includes('operator') || s.roles.includes('admin'))
export const isAdmin = (s: Session | null) => !!s && s.roles.includes('admin')
export const homeOf = (s: Session | null) => (!s ? '/signin' : isStaff(s) ? '/board' : '/my-orders')
