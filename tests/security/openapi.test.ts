// The OpenAPI document of each process describes the server (issue #18): every route it serves is in it, and
// every operation is named and documents its errors as problem+json. Built without listening (contracts/documents.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServiceApps, serviceNames } from '../contracts/documents.ts'

type Response = { $ref?: string; content?: Record<string, unknown> }
type Operation = { operationId?: string; responses: Record<string, Response> }
type Document = { paths: Record<string, Record<string, Operation>>; components: { responses?: Record<string, Response> } }

let built: Awaited<ReturnType<typeof buildServiceApps>>
beforeAll(async () => {
  built = await buildServiceApps()
})
afterAll(async () => built?.close())

const documentOf = (name: (typeof serviceNames)[number]) => built.apps[name].swagger() as unknown as Document
const operationsOf = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })))

describe.each(serviceNames)('the %s OpenAPI document', (name) => {
  it('when the routes the app registered are listed, then each one not hidden is an operation of the document, and nothing else is', () => {
    const doc = documentOf(name)
    const served = built.routes(name)
      .filter((r) => !r.hidden && r.method !== 'HEAD' && !r.url.startsWith('/docs'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
    expect(served.length).toBeGreaterThan(0)
    expect(operationsOf(doc).map((o) => o.key).sort()).toEqual([...new Set(served)].sort())
  })

  it('when its operations are read, then each has a unique camelCase operationId', () => {
    const ids = operationsOf(documentOf(name)).map((o) => o.op.operationId)
    expect(ids.filter((id) => !id || !/^[a-z][A-Za-z0-9]*$/.test(id))).toEqual([])
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('when its operations are read, then each documents at least one error, and every error is application/problem+json', () => {
    const doc = documentOf(name)
    const resolve = (r: Response) => (r.$ref ? doc.components.responses?.[r.$ref.replace('#/components/responses/', '')] : r)
    const wrong: string[] = []
    for (const { key, op } of operationsOf(doc)) {
      const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400)
      if (errors.length === 0) wrong.push(`${key}: no error documented`)
      for (const [status, r] of errors) {
        if (!resolve(r)?.content?.['application/problem+json']) wrong.push(`${key} ${status}: not problem+json`)
      }
    }
    expect(wrong).toEqual([])
  })
})
