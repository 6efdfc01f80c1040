import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Type } from 'typebox'
import pino from 'pino'
import { createHealth } from '@trackops/runtime'
import { createApp, createVerifier, problems, withHeaders, type App } from '../src/index.ts'

type Doc = {
  paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; required?: boolean }[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown>; headers?: Record<string, unknown> }> }>>
  components: { responses: Record<string, unknown> }
  tags: { name: string; description?: string }[]
  servers: unknown[]
  info: { license?: unknown }
}

let app: App
let doc: Doc

beforeAll(async () => {
  const verify = createVerifier({ secret: 'test-secret-that-is-long-enough-for-hs256-0001', issuer: 'trackops-test', audience: 'trackops' })
  app = await createApp({
    name: 'test', title: 'Test', description: 'test app', logger: pino({ level: 'silent' }), health: createHealth(), verify,
    rateLimit: async () => null, tags: { things: 'Things.' },
  })
  const Thing = Type.Object({ id: Type.String() })
  app.get('/api/things', { schema: { tags: ['things'], querystring: Type.Object({ page: Type.Integer({ default: 0 }), q: Type.String() }), response: { 200: Type.Array(Thing) } } }, async () => [])
  app.post('/api/things', {
    schema: { tags: ['things'], body: Thing, response: { 201: withHeaders(Thing, { Location: 'The new thing.' }), ...problems(409), 422: Type.Object({ failed: Type.Array(Type.String()) }) } },
  }, async () => ({ id: 'x' }))
  app.get('/api/things/:id', { schema: { tags: ['things'], params: Type.Object({ id: Type.String() }), response: { 200: Thing, ...problems(404) } } }, async () => ({ id: 'x' }))
  app.get('/api/open', { config: { auth: 'public', rateClass: 'exempt' }, schema: { tags: ['things'], operationId: 'readOpen' } }, async () => ({}))
  await app.ready()
  doc = app.swagger() as unknown as Doc
})
afterAll(() => app.close())

describe('the OpenAPI document', () => {
  it('when operations have no operationId of their own, then it is their method and path in camelCase', () => {
    expect(doc.paths['/api/things']?.get?.operationId).toBe('getThings')
    expect(doc.paths['/api/things/{id}']?.get?.operationId).toBe('getThingsById')
    expect(doc.paths['/api/open']?.get?.operationId).toBe('readOpen')
  })

  it('when a route is protected, then the errors the shared pipeline answers are references to problem+json responses', () => {
    const get = doc.paths['/api/things/{id}']!.get!.responses
    expect(Object.keys(get).sort()).toEqual(['200', '400', '401', '403', '404', '429', '503'])
    expect(get['404']).toEqual({ $ref: '#/components/responses/NotFound' })
    expect(doc.components.responses.NotFound).toEqual({ description: expect.any(String), content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } })
    expect(Object.keys(doc.paths['/api/things']!.post!.responses).sort()).toEqual(['201', '400', '401', '403', '409', '413', '415', '422', '429', '503'])
  })

  it('when a route is public and not rate-limited, then none of those errors is documented', () => {
    expect(Object.keys(doc.paths['/api/open']!.get!.responses)).toEqual(['200'])
  })

  it('when an error has a schema of its own, then it keeps it, as problem+json', () => {
    expect(Object.keys(doc.paths['/api/things']!.post!.responses['422']!.content!)).toEqual(['application/problem+json'])
  })

  it('when a query parameter has a default, then it is not required', () => {
    const params = doc.paths['/api/things']!.get!.parameters!
    expect(params.map((p) => [p.name, p.required ?? false])).toEqual([['page', false], ['q', true]])
  })

  it('when a response documents headers, then they are in the document and not in the body schema', () => {
    const created = doc.paths['/api/things']!.post!.responses['201']!
    expect(created.headers).toHaveProperty('Location')
    expect(JSON.stringify(created.content)).not.toContain('Location')
  })

  it('when it is read, then it names its servers, licence and tags', () => {
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }])
    expect(doc.info.license).toEqual({ name: 'Proprietary' })
    expect(doc.tags).toEqual([{ name: 'things', description: 'Things.' }])
  })
})
