import { describe, expect, it } from 'vitest'
import { createSseParser, type SseMessage } from '../../console/src/web/sse.ts'

describe('the SSE parser', () => {
  it('when a stream arrives in arbitrary chunks, then events come out whole with their ids', () => {
    const got: SseMessage[] = []
    const retries: number[] = []
    const p = createSseParser((m) => got.push(m), (ms) => retries.push(ms))
    const stream = ': hello\nretry: 3000\n\nid: 7\nevent: order\ndata: {"orderId":"a",\ndata: "status":"CONFIRMED"}\n\ndata: no id\r\n\r\n'
    for (let i = 0; i < stream.length; i += 5) p.feed(stream.slice(i, i + 5))
    expect(retries).toEqual([3000])
    expect(got).toEqual([
      { id: '7', event: 'order', data: '{"orderId":"a",\n"status":"CONFIRMED"}' },
      { id: '7', event: 'message', data: 'no id' },
    ])
    expect(p.lastEventId).toBe('7')
  })
})
