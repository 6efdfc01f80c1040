// A readable, self-contained HTML rendering of the AsyncAPI document (no scripts, no external CDN): every
// channel with its partitions, who sends and who receives it, and its messages, each with its summary, key,
// headers, JSON schema and example.
interface AsyncApiMessage {
  name: string
  summary?: string
  description?: string
  headers?: unknown
  payload?: unknown
  bindings?: { kafka?: { key?: { description?: string } } }
  examples?: { payload?: unknown }[]
}
interface AsyncApiOperation {
  action: 'send' | 'receive'
  channel: { $ref: string }
  summary?: string
}
interface AsyncApiDoc {
  info: { title: string; version: string; description?: string }
  channels: Record<string, { address: string; description?: string; messages: Record<string, { $ref?: string }>; bindings?: { kafka?: { partitions?: number } } }>
  operations?: Record<string, AsyncApiOperation>
  components: { messages: Record<string, AsyncApiMessage> }
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
const anchor = (s: string) => s.replace(/[^\w-]/g, '-')

export function renderAsyncApiPage(document: Record<string, unknown>): string {
  const doc = document as unknown as AsyncApiDoc
  const messages = doc.components.messages
  const channelNames = Object.keys(doc.channels).sort()

  const toc = channelNames
    .map((name) => `<li><a href="#channel-${anchor(name)}"><code>${escape(name)}</code></a> <span class="n">${Object.keys(doc.channels[name]!.messages).length || ''}</span></li>`)
    .join('')

  const operations = Object.entries(doc.operations ?? {})
  const operationsOf = (name: string, action: AsyncApiOperation['action']) => {
    const items = operations
      .filter(([, op]) => op.action === action && op.channel.$ref === `#/channels/${name}`)
      .map(([id, op]) => `<li><code>${escape(id)}</code> — ${escape(op.summary ?? '')}</li>`)
    return items.length ? `<h4>${action === 'send' ? 'Sent by' : 'Received by'}</h4><ul>${items.join('')}</ul>` : ''
  }

  const channels = channelNames
    .map((name) => {
      const channel = doc.channels[name]!
      const list = Object.keys(channel.messages)
        .map((type) => {
          const m = messages[type]
          if (!m) return ''
          const example = m.examples?.[0]?.payload
          return `<details id="message-${anchor(type)}"><summary><code>${escape(type)}</code> — ${escape(m.summary ?? '')}</summary>
${m.description ? `<p>${escape(m.description)}</p>` : ''}<p>Key: ${escape(m.bindings?.kafka?.key?.description ?? '')}</p>
<h4>Headers</h4><pre>${escape(JSON.stringify(m.headers ?? {}, null, 2))}</pre>
<h4>Payload schema</h4><pre>${escape(JSON.stringify(m.payload ?? {}, null, 2))}</pre>
${example === undefined ? '' : `<h4>Example</h4><pre>${escape(JSON.stringify(example, null, 2))}</pre>`}</details>`
        })
        .join('\n')
      const partitions = channel.bindings?.kafka?.partitions
      return `<section id="channel-${anchor(name)}"><h2><code>${escape(channel.address)}</code></h2>
<p>${escape(channel.description ?? '')}${partitions ? ` ${partitions} partitions.` : ''}</p>
${operationsOf(name, 'send')}${operationsOf(name, 'receive')}${list || '<p class="muted">No messages (see the description).</p>'}</section>`
    })
    .join('\n')

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} ${escape(doc.info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1rem 2rem;color:#1d2330}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace}pre{background:#f4f6f8;padding:.75rem;overflow:auto;font-size:13px;border-radius:4px}
section{border-top:1px solid #d8dde3;margin-top:1.5rem}details{margin:.5rem 0}summary{cursor:pointer}
.muted,.n{color:#6b7480}ul.toc{columns:2}
</style></head><body>
<h1>${escape(doc.info.title)} <small class="muted">${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description ?? '')}</p>
<p>Machine-readable: <a href="/asyncapi.json">/asyncapi.json</a> (AsyncAPI 3.0).</p>
<h2>Channels</h2><ul class="toc">${toc}</ul>
${channels}
</body></html>`
}
