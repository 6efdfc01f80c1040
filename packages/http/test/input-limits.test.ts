// The limits every app puts on request values before they can reach SQL, and how a value that PostgreSQL refuses
// anyway is answered: always a 4xx problem, never a 500 or a 503.
import net from 'node:net'
import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import { Type } from 'typebox'
import pg from 'pg'
import pino from 'pino'
import type { InjectOptions } from 'fastify'
import { createHealth } from '@trackops/runtime'
import { createApp, type App } from '../src/index.ts'
import { findNul, INT4_MAX, INT4_MIN, withNumberBounds } from '../src/input-limits.ts'

const url = process.env['PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const pool = new pg.Pool({ connectionString: url, max: 2 })
let app: App
const reached: string[] = []

beforeAll(async () => {
  app = await createApp({ name: 'test', title: 'Test', description: 'test app', logger: pino({ level: 'silent' }), health: createHealth(), verify: async () => ({ sub: 'test', roles: ['admin'] }) })
  app.get('/api/things', {
    schema: { querystring: Type.Object({ page: Type.Integer({ minimum: 0, default: 0 }), size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), ratio: Type.Optional(Type.Number()), name: Type.Optional(Type.String()) }) },
  }, async (req) => {
    reached.push('list')
    return req.query
  })
  app.post('/api/things/:id', {
    schema: { params: Type.Object({ id: Type.String({ maxLength: 200 }) }), body: Type.Object({ label: Type.String(), tags: Type.Optional(Type.Array(Type.String())), count: Type.Optional(Type.Integer()) }, { additionalProperties: false }) },
  }, async (req) => {
    reached.push(req.params.id)
    return req.body
  })
  // Routes that send a request value to PostgreSQL unchecked, as a handler with a gap in its schema would.
  app.get('/sql/int', async (req) => (await pool.query('SELECT $1::int AS n', [(req.query as { n: string }).n])).rows[0])
  app.get('/sql/jsonb', async (req) => (await pool.query('SELECT $1::jsonb AS j', [(req.query as { j: string }).j])).rows[0])
  // A value decoded from the request (base64) can carry U+0000 past the edge check.
  app.get('/sql/decoded', async (req) => (await pool.query('SELECT $1::text AS t', [Buffer.from((req.query as { b64: string }).b64, 'base64').toString()])).rows[0])
  await app.ready()
})
afterAll(async () => {
  await app.close()
  await pool.end()
})

const problemOf = (res: { statusCode: number; headers: Record<string, unknown>; json: () => { code: string; errors?: { field: string; message: string }[] } }) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  return res.json()
}

describe('numbers in query strings', () => {
  for (const value of ['1e309', 'Infinity', '-Infinity', '99999999999999999999999', '9007199254740993', '2147483648']) {
    it(`when page=${value}, then 400 request.validation naming querystring.page, and the handler never runs`, async () => {
      reached.length = 0
      const res = await app.inject({ method: 'GET', url: `/api/things?page=${value}` })
      expect(res.statusCode).toBe(400)
      const body = problemOf(res)
      expect(body.code).toBe('request.validation')
      expect(body.errors?.map((e) => e.field)).toContain('querystring.page')
      expect(reached).toEqual([])
    })
  }

  it('when a number parameter is Infinity or 1e309, then 400 (ajv coerces both to Infinity and skips its range checks)', async () => {
    for (const value of ['Infinity', '1e309']) {
      const res = await app.inject({ method: 'GET', url: `/api/things?ratio=${value}` })
      expect(res.statusCode, value).toBe(400)
      expect(problemOf(res).errors).toEqual([{ field: 'querystring.ratio', message: 'must be a finite number' }])
    }
  })

  it('when page is the largest int4, then the request is served', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/things?page=${INT4_MAX}&ratio=0.5` })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ page: INT4_MAX, size: 20, ratio: 0.5 })
  })

  it('when a body integer is beyond int4 or written as 1e309, then 400 naming the field', async () => {
    for (const raw of ['2147483648', '1e309', '99999999999999999999999']) {
      const res = await app.inject({ method: 'POST', url: '/api/things/a', headers: { 'content-type': 'application/json' }, payload: `{"label":"x","count":${raw}}` })
      expect(res.statusCode, raw).toBe(400)
      expect(problemOf(res).errors?.map((e) => e.field)).toEqual(['count'])
    }
  })

  it('when the OpenAPI document is read, then it shows the int4 bounds the schema left open, and keeps the bounds it set', async () => {
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { parameters: { name: string; schema: Record<string, unknown> }[] }>> }
    const params = Object.fromEntries(doc.paths['/api/things']!.get!.parameters.map((p) => [p.name, p.schema]))
    expect(params.page).toMatchObject({ minimum: 0, maximum: INT4_MAX })
    expect(params.size).toMatchObject({ minimum: 1, maximum: 100 })
    expect(params.ratio).toMatchObject({ minimum: INT4_MIN, maximum: INT4_MAX })
    expect(params.name).not.toHaveProperty('maximum')
  })
})

describe('the NUL character', () => {
  const cases: [string, InjectOptions, string][] = [
    ['a body field', { method: 'POST', url: '/api/things/a', headers: { 'content-type': 'application/json' }, payload: '{"label":"a\\u0000b"}' }, 'label'],
    ['an array item in the body', { method: 'POST', url: '/api/things/a', headers: { 'content-type': 'application/json' }, payload: '{"label":"x","tags":["ok","\\u0000"]}' }, 'tags[1]'],
    ['a property name in the body', { method: 'POST', url: '/api/things/a', headers: { 'content-type': 'application/json' }, payload: '{"label":"x","<b>\\u0000":1}' }, '*'],
    ['a query parameter', { method: 'GET', url: '/api/things?name=a%00b' }, 'querystring.name'],
    ['an unknown query parameter', { method: 'GET', url: '/api/things?other=%00' }, 'querystring.other'],
    ['a path parameter', { method: 'POST', url: '/api/things/a%00b', headers: { 'content-type': 'application/json' }, payload: '{"label":"x"}' }, 'params.id'],
    ['a header', { method: 'GET', url: '/api/things', headers: { 'x-note': 'a\u0000b' } }, 'headers.x-note'],
  ]
  for (const [where, request, field] of cases) {
    it(`when ${where} contains \\u0000, then 400 request.validation naming ${field}, and the handler never runs`, async () => {
      reached.length = 0
      const res = await app.inject(request)
      expect(res.statusCode).toBe(400)
      const body = problemOf(res)
      expect(body.code).toBe('request.validation')
      expect(body.errors).toEqual([{ field, message: 'must not contain the NUL character (\\u0000)' }])
      expect(reached).toEqual([])
    })
  }

  it('when the same text has no NUL (other control characters, emoji, bidi marks), then it is accepted', async () => {
    const label = '\u0001\u001f tab\t 💩 \u202e\ufeff'
    const res = await app.inject({ method: 'POST', url: '/api/things/a', payload: { label } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ label })
  })

  it('when a body nests 20 000 levels deep, then it is answered with a 4xx (no stack overflow)', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/things/a', headers: { 'content-type': 'application/json' }, payload: `{"label":"x","tags":${'['.repeat(20_000)}${']'.repeat(20_000)}}` })
    expect(res.statusCode).toBe(400)
    problemOf(res)
  })
})

describe('values PostgreSQL refuses', () => {
  const cases: [string, string, string][] = [
    ['an int out of range (22003)', '/sql/int?n=99999999999', 'a number is out of range'],
    ['text that is not an int (22P02)', '/sql/int?n=abc', 'a value is not in the expected format'],
    ['text with a NUL byte (22021)', `/sql/decoded?b64=${Buffer.from('a\u0000b').toString('base64')}`, 'a text value contains a character that cannot be stored (such as \\u0000)'],
    ['jsonb with \\u0000 (22P05)', `/sql/jsonb?j=${encodeURIComponent('{"a":"\\u0000"}')}`, 'a text value contains a character that cannot be stored (such as \\u0000)'],
  ]
  for (const [what, path, message] of cases) {
    it(`when PostgreSQL refuses ${what}, then 400 request.validation, not 500 nor 503`, async () => {
      const res = await app.inject({ method: 'GET', url: path })
      expect(res.statusCode).toBe(400)
      const body = problemOf(res)
      expect(body.code).toBe('request.validation')
      expect(body.errors).toEqual([{ field: 'request', message }])
    })
  }

  it('when the route is fine and PostgreSQL answers, then 200 (the mapping does not hide successes)', async () => {
    const res = await app.inject({ method: 'GET', url: '/sql/int?n=42' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ n: 42 })
  })
})

describe('what the router refuses', () => {
  it('when the path has malformed percent-encoding, then 400 problem+json that does not repeat the path', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/things/zqmarker%zz', payload: { label: 'x' } })
    expect(res.statusCode).toBe(400)
    expect(problemOf(res).code).toBe('request.bad-request')
    expect(res.body).not.toContain('zqmarker')
  })

  it('when a path parameter is longer than 200 characters, then 414 problem+json that does not repeat it', async () => {
    const res = await app.inject({ method: 'POST', url: `/api/things/zqmarker${'x'.repeat(300)}`, payload: { label: 'x' } })
    expect(res.statusCode).toBe(414)
    expect(problemOf(res).code).toBe('request.uri-too-long')
    expect(res.body).not.toContain('zqmarker')
    expect(res.headers['x-correlation-id']).toBeTruthy()
  })
})

describe('what Node refuses before Fastify sees it', () => {
  /** Raw bytes over a real socket: what comes back before the server closes the connection. */
  async function rawHttp(request: string): Promise<string> {
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = new URL(address)
    return new Promise((resolve, reject) => {
      let answer = ''
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request))
      socket.on('data', (chunk) => (answer += chunk.toString()))
      socket.on('close', () => resolve(answer))
      socket.on('error', reject)
    })
  }

  it('when a header carries a NUL byte over the wire, then 400 problem+json and the connection is closed', async () => {
    const answer = await rawHttp('GET /api/things HTTP/1.1\r\nHost: x\r\nX-Note: a\u0000b\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toMatch(/content-type: application\/problem\+json/i)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, code: 'request.bad-request' })
  })
})

describe('pure helpers', () => {
  it('when a schema leaves numbers open at any depth, then withNumberBounds closes them and leaves the rest as it was', () => {
    const schema = Type.Object({ a: Type.Integer(), b: Type.Array(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])), c: Type.String(), d: Type.Integer({ minimum: 1, maximum: 5, default: 2 }) })
    const bounded = withNumberBounds(schema) as unknown as Record<string, Record<string, Record<string, unknown>>>
    expect(bounded.properties!.a).toMatchObject({ type: 'integer', minimum: INT4_MIN, maximum: INT4_MAX })
    const number = (bounded.properties!.b!.items as { anyOf: Record<string, unknown>[] }).anyOf[0]
    expect(number).toMatchObject({ type: 'number', exclusiveMinimum: 0, maximum: INT4_MAX })
    expect(number).not.toHaveProperty('minimum')
    expect(bounded.properties!.c).toBe(schema.properties.c)
    expect(bounded.properties!.d).toBe(schema.properties.d)
    expect(schema.properties.a).not.toHaveProperty('maximum') // the original is not changed
    expect(withNumberBounds(bounded)).toBe(bounded) // nothing left to bound: the same object
  })

  it('when a value holds \\u0000, then findNul gives its path; otherwise null', () => {
    expect(findNul({ a: [{ b: 'ok' }, { b: 'x\u0000' }] }, 'body')).toBe('body.a[1].b')
    expect(findNul({ a: ['fine', 1, null, true] })).toBeNull()
    expect(findNul('\u0000')).toBe('')
  })
})
