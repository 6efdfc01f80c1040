// Limits every request schema gets, so a hostile value is refused at the edge instead of failing in SQL:
// numbers stay within what an int4 column holds unless the schema sets its own bounds, and no text carries
// U+0000 (PostgreSQL text and jsonb cannot store it: 22021 / 22P05).
import { fieldPath } from './validation-errors.ts'

export const INT4_MIN = -2_147_483_648
export const INT4_MAX = 2_147_483_647

// Keys whose values are data, not subschemas.
const dataKeys = new Set(['enum', 'const', 'default', 'examples', 'example'])

const isNumeric = (type: unknown) =>
  type === 'integer' || type === 'number' || (Array.isArray(type) && (type.includes('integer') || type.includes('number')))

/**
 * A copy of a request schema in which every integer or number without a minimum or maximum gets the int4
 * bound on that side. The schema is used for validation and for the OpenAPI document alike, so both say the
 * same. Returns the schema itself when nothing needed a bound.
 */
export function withNumberBounds<T>(schema: T): T {
  if (Array.isArray(schema)) {
    const items = schema.map((s: unknown) => withNumberBounds(s))
    return (items.some((s, i) => s !== schema[i]) ? items : schema) as T
  }
  if (schema === null || typeof schema !== 'object') return schema
  const node = schema as Record<string, unknown>
  let copy: Record<string, unknown> | null = null
  const set = (key: string, value: unknown) => {
    copy ??= { ...node }
    copy[key] = value
  }
  for (const [key, value] of Object.entries(node)) {
    if (dataKeys.has(key) || value === null || typeof value !== 'object') continue
    const bounded = withNumberBounds(value)
    if (bounded !== value) set(key, bounded)
  }
  if (isNumeric(node.type)) {
    if (node.minimum === undefined && node.exclusiveMinimum === undefined) set('minimum', INT4_MIN)
    if (node.maximum === undefined && node.exclusiveMaximum === undefined) set('maximum', INT4_MAX)
  }
  if (copy === null) return schema
  // TypeBox marks its schemas with symbol keys; keep them on the copy.
  for (const symbol of Object.getOwnPropertySymbols(node)) (copy as Record<symbol, unknown>)[symbol] = (node as Record<symbol, unknown>)[symbol]
  return copy as T
}

interface Step {
  key: string | number
  up: Step | null
}

// Field names in answers are the request's own keys: only plain names and indexes are repeated, anything
// else is `*`, so an error body never reflects arbitrary input.
const PLAIN = /^[A-Za-z0-9_-]{1,64}$/
function pathOf(step: Step | null, nulInKey = false): string {
  const keys: (string | number)[] = []
  for (let s = step; s; s = s.up) keys.push(typeof s.key === 'number' || (PLAIN.test(s.key) && !(nulInKey && s === step)) ? s.key : '*')
  return fieldPath(keys.reverse())
}

/** Parsed JSON, query strings, params and headers; not a buffer or a stream a content parser may leave. */
function isJsonLike(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false
  return !ArrayBuffer.isView(value) && typeof (value as { pipe?: unknown }).pipe !== 'function'
}

/**
 * Where the first U+0000 sits in a parsed request part (a string value or a property name), as a field path
 * like the validation errors' (`items[0].productId`, `querystring.category`), or null when there is none.
 * Iterative: a 64 KiB body can nest tens of thousands of levels deep.
 */
export function findNul(value: unknown, part?: string): string | null {
  const pending: [unknown, Step | null][] = [[value, part ? { key: part, up: null } : null]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, at] = next
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return pathOf(at)
      continue
    }
    if (!isJsonLike(current)) continue
    const isArray = Array.isArray(current)
    for (const [key, inner] of Object.entries(current)) {
      const step = { key: isArray ? Number(key) : key, up: at }
      if (key.includes('\u0000')) return pathOf(step, true)
      pending.push([inner, step])
    }
  }
  return null
}

/**
 * The first property of a query string, params or headers object that ajv coerced to a number that is not
 * finite, or null. ajv turns "Infinity" and "1e309" into Infinity and then skips the range keywords for it
 * (they only apply to finite numbers), so a schema alone does not refuse it.
 */
export function nonFiniteField(data: unknown): string | null {
  if (data === null || typeof data !== 'object') return null
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value]
    if (values.some((v) => typeof v === 'number' && !Number.isFinite(v))) return key
  }
  return null
}
