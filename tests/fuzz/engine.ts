// A schema-driven HTTP fuzzer: walks every operation of an app's OpenAPI document and sends, one at a time,
// hostile values for each parameter and body field (the others kept valid, so the hostile one reaches the code
// behind validation), plus hostile bodies, content types and path segments. Deterministic: the only random
// values come from a seeded generator.
import type { InjectOptions, LightMyRequestResponse } from 'fastify'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type Schema = Record<string, any>

export interface Param {
  in: 'path' | 'query' | 'header'
  name: string
  required: boolean
  schema: Schema
}

export interface Operation {
  method: string
  /** The OpenAPI path, e.g. /api/orders/{id}. */
  path: string
  params: Param[]
  body: Schema | null
}

export interface Injectable {
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>
}

/** Valid values the schema cannot invent (existing ids), by parameter or field name; undefined: generate one. */
export type Hints = (op: Operation, name: string) => Json | undefined

export interface FuzzTarget {
  app: Injectable
  token: string
  hints: Hints
  /** Digest of everything the service can write; equal before and after a request that wrote nothing. */
  digest: () => Promise<string>
  /** Called before each operation: fresh fixtures, so an earlier operation's accepted request cannot starve it. */
  beforeOperation?: (op: Operation) => Promise<void>
}

export interface Report {
  requests: number
  statuses: Record<number, number>
  failures: string[]
}

// --- the seeded generator ---------------------------------------------------------------------------------------

export function seeded(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const hex = (n: number) => Array.from({ length: n }, () => int(16).toString(16)).join('')
  return {
    int,
    uuid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[int(4)]}${hex(3)}-${hex(12)}`,
    /** A string of code points from awkward ranges: controls, combining marks, bidi, private use, astral. */
    unicode: (length: number) => {
      const ranges = [[0x01, 0x1f], [0x7f, 0x9f], [0x300, 0x36f], [0x200b, 0x202e], [0xe000, 0xe0ff], [0xfff0, 0xfffd], [0x1f300, 0x1f6ff], [0x41, 0x5a]]
      let s = ''
      for (let i = 0; i < length; i++) {
        const [lo, hi] = ranges[int(ranges.length)] as [number, number]
        s += String.fromCodePoint(lo + int(hi - lo + 1))
      }
      return s
    },
  }
}

// --- operations from the OpenAPI document -------------------------------------------------------------------------

export function operationsOf(doc: { paths: Record<string, Record<string, Schema>> }): Operation[] {
  const ops: Operation[] = []
  for (const [path, byMethod] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(byMethod)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      const params = ((op.parameters ?? []) as Schema[]).map((p) => ({ in: p.in, name: p.name, required: !!p.required, schema: p.schema ?? {} }) as Param)
      const body = (op.requestBody?.content?.['application/json']?.schema as Schema | undefined) ?? null
      ops.push({ method: method.toUpperCase(), path, params, body })
    }
  }
  return ops
}

// --- valid values ----------------------------------------------------------------------------------------------------

const textCandidates = ['A1', 'abc', 'Springfield', 'United States', '62701', '+1 555 123 4567', '12 Main Street', 'tok_visa', 'card', 'x', 'ok', '1']

/** A value the schema accepts (best effort; hints supply what a schema cannot know, like existing ids). */
export function validValue(schema: Schema, rnd: ReturnType<typeof seeded>): Json {
  if (schema.const !== undefined) return schema.const as Json
  if (Array.isArray(schema.enum)) return schema.enum[0] as Json
  if (schema.default !== undefined) return schema.default as Json
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (branches) return validValue(branches.find((b) => b.type !== 'null') ?? branches[0] ?? {}, rnd)
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : schema.type
  switch (type) {
    case 'string': {
      if (schema.format === 'uuid') return rnd.uuid()
      if (schema.format === 'date-time') return '2030-01-01T00:00:00.000Z'
      const pattern = schema.pattern ? new RegExp(schema.pattern as string) : null
      const fits = (s: string) => (!pattern || pattern.test(s)) && s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity)
      return textCandidates.find(fits) ?? 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1)
      return Math.min(Math.max(1, Math.ceil(min)), schema.maximum ?? Infinity)
    }
    case 'boolean':
      return true
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => validValue(schema.items ?? {}, rnd))
    case 'object': {
      const out: Record<string, Json> = {}
      for (const name of (schema.required ?? []) as string[]) out[name] = validValue(schema.properties?.[name] ?? {}, rnd)
      return out
    }
    default:
      return 'x'
  }
}

/** A valid body: the schema's required fields, plus every field (at any depth) a hint names. */
function validBody(schema: Schema, op: Operation, hints: Hints, rnd: ReturnType<typeof seeded>): Json {
  const walk = (s: Schema): Json => {
    const branches = (s.anyOf ?? s.oneOf) as Schema[] | undefined
    if (branches && !s.properties) return walk(branches.find((b) => b.type !== 'null') ?? {})
    if (s.type === 'array' && s.items) return [walk(s.items as Schema)]
    if (s.type !== 'object' || !s.properties) return validValue(s, rnd)
    const out: Record<string, Json> = {}
    for (const [name, prop] of Object.entries(s.properties as Record<string, Schema>)) {
      const hinted = hints(op, name)
      if (hinted !== undefined) out[name] = hinted
      else if ((s.required ?? []).includes(name)) out[name] = walk(prop)
    }
    return out
  }
  return walk(schema)
}

/** Every field of a body schema as a path (array items as index 0), outermost first. */
function fieldsOf(schema: Schema, at: (string | number)[] = []): (string | number)[][] {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (branches && !schema.properties) return fieldsOf(branches.find((b) => b.type !== 'null') ?? {}, at)
  const here = at.length ? [at] : []
  if (schema.type === 'array' && schema.items) return [...here, ...fieldsOf(schema.items as Schema, [...at, 0])]
  if (schema.type === 'object' && schema.properties) {
    return [...here, ...Object.entries(schema.properties as Record<string, Schema>).flatMap(([name, prop]) => fieldsOf(prop, [...at, name]))]
  }
  return here
}

// --- hostile values -----------------------------------------------------------------------------------------------------

/** Hostile query, path and header values, as raw (already encoded) URL text. */
function hostileText(rnd: ReturnType<typeof seeded>): string[] {
  return [
    '', '%00', 'a%00b', '%00%00', encodeURIComponent('\u0001\u001f\u007f\u0085'), encodeURIComponent('\u202e\u200b\ufeff'),
    '%ED%A0%80', '%C0%80', '%FF%FE', '%F0%9F%92%A9', '%', '%zz', '%2F', 'a%2Fb', '..', '.', '%2E%2E', encodeURIComponent('../../etc/passwd'),
    'x'.repeat(300), 'x'.repeat(5000), '1e309', '-1e309', '99999999999999999999999', '9007199254740993', '-9007199254740993',
    '2147483648', '-2147483649', '-1', '-0', '0', '1.5', 'NaN', 'Infinity', '-Infinity', '0x1F', '1e3', '%201', 'true', 'null', '[]', '{}',
    encodeURIComponent("' OR 1=1 --"), encodeURIComponent('<script>alert(1)</script>'),
    ...[3, 40, 250].map((n) => encodeURIComponent(rnd.unicode(n))),
  ]
}

/** Hostile odd path segments (raw URL text). */
const hostileSegments = ['.', '..', '%2E', '%2E%2E', '%00', '%2F', 'a%2Fb', '%5C', '%20', '%', '%zz', 'x'.repeat(201), 'x'.repeat(5000), '%F0%9F%92%A9', '-1', '1e309', '99999999999999999999999']

/** Hostile JSON values for one body field, as raw JSON text (so 1e309 and huge integers stay as written). */
function hostileJson(rnd: ReturnType<typeof seeded>): string[] {
  const str = (s: string) => JSON.stringify(s)
  return [
    'null', 'true', 'false', '0', '-1', '-0', '1.5', '1e309', '-1e309', '1e-400', '99999999999999999999999', '-99999999999999999999999',
    '9007199254740993', '2147483648', '-2147483649', '4294967296', '1e21', '0.000001',
    '""', str('\u0000'), str('a\u0000b'), str('\u0001\u001f\u007f\u0085'), '"\\ud800"', '"\\udfff\\ud800"', str('\u202e\u200b\ufeff'), str('💩'),
    str('x'.repeat(10_000)), '[]', '{}', '[1,2]', '[null]', '{"a":{"b":{"c":[]}}}', str("' OR 1=1 --"), str('1e309'), str('99999999999999999999999'),
    str('-1'), str('2025-13-45T25:61:61Z'), str('00000000-0000-0000-0000-000000000000'),
    ...[3, 40, 400].map((n) => str(rnd.unicode(n))),
  ]
}

/** Whole bodies that are not what any operation takes: [description, raw body, content type]. */
function hostileBodies(valid: Json): [string, string, string | undefined][] {
  const json = 'application/json'
  const validText = JSON.stringify(valid)
  const deepArrays = '['.repeat(20_000) + ']'.repeat(20_000)
  const deepObjects = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000)
  const withKey = (raw: string) => (validText === '{}' ? `{${raw}}` : validText.replace(/^\{/, `{${raw},`))
  return [
    ['malformed: unclosed object', '{', json],
    ['malformed: cut off', validText.slice(0, Math.max(1, Math.floor(validText.length / 2))), json],
    ['malformed: trailing brace', `${validText}}`, json],
    ['malformed: NaN literal', withKey('"n":NaN'), json],
    ['malformed: Infinity literal', withKey('"n":Infinity'), json],
    ['malformed: single quotes', "{'a':1}", json],
    ['malformed: raw NUL byte', '\u0000', json],
    ['empty body', '', json],
    ['JSON null', 'null', json],
    ['JSON array', '[]', json],
    ['JSON string', '"text"', json],
    ['JSON number', '42', json],
    ['JSON true', 'true', json],
    ['NUL in a property name', withKey('"a\\u0000b":1'), json],
    ['__proto__ property', withKey('"__proto__":{"polluted":true}'), json],
    ['constructor.prototype property', withKey('"constructor":{"prototype":{"polluted":true}}'), json],
    ['duplicate keys', validText === '{}' ? '{"a":1,"a":2}' : validText.replace(/^\{/, '{"a":1,"a":2,'), json],
    ['deeply nested arrays', deepArrays, json],
    ['deeply nested objects', deepObjects, json],
    ['over 64 KiB', withKey(`"padding":${JSON.stringify('x'.repeat(70 * 1024))}`), json],
    ['text/plain', validText, 'text/plain'],
    ['form data', 'a=1&b=2', 'application/x-www-form-urlencoded'],
    ['multipart', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n', 'multipart/form-data; boundary=x'],
    ['XML', '<a>1</a>', 'application/xml'],
    ['JSON as UTF-16', validText, 'application/json; charset=utf-16'],
    ['JSON with a bogus charset', validText, 'application/json; charset=x-nonsense'],
    ['JSON with odd casing', validText, 'APPLICATION/JSON'],
    ['a JSON-like type', validText, 'application/json-patch+json'],
    ['no content type', validText, undefined],
    ['an empty content type', validText, ''],
    ['content type with NUL', validText, 'application/json\u0000'],
  ]
}

// --- requests -------------------------------------------------------------------------------------------------------------

interface Request {
  what: string
  path: Record<string, string>
  query: [string, string][]
  headers: Record<string, string>
  body?: { raw: string; contentType: string | undefined }
}

function urlOf(op: Operation, r: Request): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => r.path[name] ?? 'x')
  return r.query.length ? `${path}?${r.query.map(([k, v]) => `${k}=${v}`).join('&')}` : path
}

/** Field path → raw JSON text, placed into the valid body (a marker string replaced after stringifying). */
function bodyWith(valid: Json, field: (string | number)[], raw: string): string {
  const marker = '__fuzz_marker__'
  const copy = structuredClone(valid) as Json
  let at = copy as Record<string | number, Json>
  for (const key of field.slice(0, -1)) {
    if (at[key] === null || typeof at[key] !== 'object') at[key] = typeof field[field.indexOf(key) + 1] === 'number' ? [] : {}
    at = at[key] as Record<string | number, Json>
  }
  at[field[field.length - 1] as string | number] = marker
  return JSON.stringify(copy).replace(`"${marker}"`, raw)
}

function* requestsOf(op: Operation, valid: { path: Record<string, string>; query: [string, string][]; headers: Record<string, string>; body: Json | null }, rnd: ReturnType<typeof seeded>): Generator<Request> {
  const json = 'application/json'
  const base = (): Request => ({
    what: 'valid',
    path: { ...valid.path },
    query: [...valid.query],
    headers: { ...valid.headers },
    ...(valid.body !== null ? { body: { raw: JSON.stringify(valid.body), contentType: json } } : {}),
  })
  yield base()
  const texts = hostileText(rnd)
  for (const p of op.params) {
    if (p.in === 'path') {
      for (const v of [...texts, ...hostileSegments]) {
        const r = base()
        r.what = `path ${p.name}=${v.slice(0, 40)}`
        r.path[p.name] = v
        yield r
      }
    } else if (p.in === 'query') {
      for (const v of texts) {
        const r = base()
        r.what = `query ${p.name}=${v.slice(0, 40)}`
        r.query = [...r.query.filter(([k]) => k !== p.name), [p.name, v]]
        yield r
      }
      const twice = base()
      twice.what = `query ${p.name} twice`
      twice.query = [...twice.query.filter(([k]) => k !== p.name), [p.name, '1'], [p.name, '2']]
      yield twice
      if (p.required) {
        const without = base()
        without.what = `query ${p.name} left out`
        without.query = without.query.filter(([k]) => k !== p.name)
        yield without
      }
    } else {
      for (const v of texts) {
        const r = base()
        let decoded: string
        try {
          decoded = decodeURIComponent(v)
        } catch {
          decoded = v
        }
        r.what = `header ${p.name}=${v.slice(0, 40)}`
        r.headers[p.name] = decoded
        yield r
      }
    }
  }
  // Every operation: an unknown query parameter and a correlation id header with hostile values.
  for (const v of ['%00', '1e309', 'x'.repeat(5000), encodeURIComponent(rnd.unicode(20))]) {
    const r = base()
    r.what = `unknown query parameter=${v.slice(0, 40)}`
    r.query = [...r.query, ['zz_unknown', v]]
    yield r
  }
  for (const v of ['', 'x'.repeat(200), "' OR 1=1 --", '\u202e\u200b', 'a\u0000b', 'a\nb']) {
    const r = base()
    r.what = `x-correlation-id=${JSON.stringify(v.slice(0, 40))}`
    r.headers['x-correlation-id'] = v
    yield r
  }
  if (op.body) {
    for (const field of fieldsOf(op.body)) {
      for (const raw of hostileJson(rnd)) {
        const r = base()
        r.what = `body ${field.join('.')}=${raw.slice(0, 40)}`
        r.body = { raw: bodyWith(valid.body, field, raw), contentType: json }
        yield r
      }
    }
  }
  if (op.method !== 'GET') {
    for (const [what, raw, contentType] of hostileBodies(valid.body ?? {})) {
      const r = base()
      r.what = `body: ${what}`
      r.body = { raw, contentType }
      yield r
    }
  }
}

// --- the walk ---------------------------------------------------------------------------------------------------------------

const isProblem = (res: LightMyRequestResponse) => /^application\/problem\+json/.test(String(res.headers['content-type'] ?? ''))

/** Checks one answer; returns what is wrong with it, or null. */
function judge(res: LightMyRequestResponse, r: Request): string | null {
  if (res.statusCode >= 500) return `${res.statusCode} ${res.body.slice(0, 300)}`
  if (res.statusCode < 400) return null
  if (!isProblem(res)) return `${res.statusCode} with content-type ${res.headers['content-type']}`
  let body: { status?: unknown; code?: unknown; errors?: unknown }
  try {
    body = res.json()
  } catch {
    return `${res.statusCode} problem body is not JSON`
  }
  if (body.status !== res.statusCode || typeof body.code !== 'string') return `${res.statusCode} problem without status/code: ${res.body.slice(0, 200)}`
  if (body.code.endsWith('.validation')) {
    const errors = body.errors as { field?: unknown; message?: unknown }[] | undefined
    if (!Array.isArray(errors) || errors.length === 0 || errors.some((e) => typeof e.field !== 'string' || typeof e.message !== 'string')) {
      return `${res.statusCode} ${body.code} without an errors list of {field, message}`
    }
    // The shared error handler's answer to a value PostgreSQL refused: correct, but the edge should have caught it.
    if (errors.some((e) => e.field === 'request')) return `${res.statusCode}: the value reached SQL before it was refused (${res.body.slice(0, 200)})`
  }
  if (r.what === 'body: over 64 KiB' && res.statusCode !== 413) return `${res.statusCode} for a body over 64 KiB (expected 413)`
  return null
}

export async function fuzz(target: FuzzTarget, ops: Operation[], seed: number): Promise<Report> {
  const report: Report = { requests: 0, statuses: {}, failures: [] }
  const rnd = seeded(seed)
  for (const op of ops) {
    await target.beforeOperation?.(op)
    const name = `${op.method} ${op.path}`
    const validPath: Record<string, string> = {}
    const validQuery: [string, string][] = []
    const validHeaders: Record<string, string> = { authorization: `Bearer ${target.token}` }
    for (const p of op.params) {
      const value = target.hints(op, p.name) ?? validValue(p.schema, rnd)
      if (p.in === 'path') validPath[p.name] = encodeURIComponent(String(value))
      else if (p.in === 'query' && (p.required || target.hints(op, p.name) !== undefined)) validQuery.push([p.name, encodeURIComponent(String(value))])
    }
    const validBodyValue = op.body ? validBody(op.body, op, target.hints, rnd) : null
    let before = await target.digest()
    const opStart = before
    for (const r of requestsOf(op, { path: validPath, query: validQuery, headers: validHeaders, body: validBodyValue }, rnd)) {
      const headers = { ...r.headers, ...(r.body?.contentType !== undefined ? { 'content-type': r.body.contentType } : {}) }
      const res = await target.app.inject({ method: op.method as InjectOptions['method'], url: urlOf(op, r), headers, ...(r.body ? { payload: r.body.raw } : {}) })
      report.requests++
      report.statuses[res.statusCode] = (report.statuses[res.statusCode] ?? 0) + 1
      const wrong = judge(res, r)
      if (wrong) report.failures.push(`${name} [${r.what}] → ${wrong}`)
      if (r.what === 'valid' && [400, 401, 403, 415].includes(res.statusCode)) {
        report.failures.push(`${name} [valid request] → ${res.statusCode} ${res.body.slice(0, 300)}: the fuzz would not get past validation`)
      }
      if (op.method !== 'GET') {
        const after = await target.digest()
        if (res.statusCode >= 400 && after !== before) report.failures.push(`${name} [${r.what}] → ${res.statusCode}, but the database changed`)
        before = after
      }
    }
    if (op.method === 'GET' && (await target.digest()) !== opStart) report.failures.push(`${name}: a read changed the database`)
  }
  return report
}
