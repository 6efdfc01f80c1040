// How a request that fails its schema is told what to fix: one entry per field, named by its path in the request,
// with the message the schema gives for that field (`errorMessage`) or ajv's.
import type { ErrorObject } from 'ajv'

export interface FieldError {
  field: string
  message: string
}

/** `address.city`, `items[0].quantity`, `querystring.page`: a field's path as error answers name it. */
export function fieldPath(segments: readonly (string | number)[]): string {
  let path = ''
  for (const s of segments) path += typeof s === 'number' ? `[${s}]` : path ? `.${s}` : s
  return path
}

const segmentsOf = (instancePath: string) =>
  instancePath
    .split('/')
    .filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replaceAll('~1', '/').replaceAll('~0', '~')))

/**
 * ajv's errors (compiled with `verbose`) → one entry per failing field. A schema states its rule in words with
 * `errorMessage` (`Type.String({ pattern, errorMessage: 'must be 2 to 100 letters' })`): that message replaces
 * whatever ajv found wrong with the field (type, length, pattern, or a branch of an optional value's union); a
 * missing field "is required". Only names and rules are repeated, never the rejected input.
 */
export function validationErrors(errors: readonly ErrorObject[], part: string | undefined): FieldError[] {
  const prefix = part && part !== 'body' ? [part] : []
  const byField = new Map<string, { required: boolean; own: string | undefined; ajv: string[] }>()
  for (const e of errors) {
    const missing = e.keyword === 'required' ? (e.params as { missingProperty?: string }).missingProperty : undefined
    const field = fieldPath([...prefix, ...segmentsOf(e.instancePath), ...(missing ? [missing] : [])]) || part || 'request'
    const entry = byField.get(field) ?? { required: false, own: undefined, ajv: [] }
    byField.set(field, entry)
    if (missing) entry.required = true
    else {
      const own = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage
      if (typeof own === 'string') entry.own ??= own
      else if (e.keyword !== 'anyOf' && e.message && !entry.ajv.includes(e.message)) entry.ajv.push(e.message)
    }
  }
  return [...byField].flatMap(([field, e]) =>
    e.required ? [{ field, message: 'is required' }]
    : e.own !== undefined ? [{ field, message: e.own }]
    : (e.ajv.length ? e.ajv : ['is invalid']).map((message) => ({ field, message })),
  )
}
