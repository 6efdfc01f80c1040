// Dead letters of every service (relay /api/dlq). Admins replay (the owning consumer re-applies the record within
// about a second) or discard (records parked behind the same key then drain). A replay's outcome is followed
// until the consumer has decided: REPLAYED, or DEAD again with one more attempt and the new error.
import { useEffect, useRef, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api, type ApiError, type Page } from '../api.ts'
import { useAction, useResource } from '../hooks.ts'
import { Confirm, Panel, ProblemBox, StatusBadge } from '../components.ts'
import { ago, dateTime, number, shortId } from '../format.ts'
import { isAdmin, type Session } from '../session.ts'
// The relay's own letter shapes, as /api/dlq returns them. Type-only: nothing of the relay reaches the bundle.
import type { DeadLetter as Letter, DeadLetterDetail as LetterDetail, DlqStatus } from '../../../../services/relay/src/dlq-store.ts'

type Tab = 'open' | Extract<DlqStatus, 'REPLAYED' | 'DISCARDED'>
const SIZE = 50

function Detail(props: { id: string }) {
  const d = useResource<LetterDetail>(`/api/dlq/${props.id}`)
  if (d.error) return html`<${ProblemBox} error=${d.error} compact />`
  if (!d.data) return html`<div class="muted">Loading…</div>`
  const value = typeof d.data.value === 'string' ? d.data.value : JSON.stringify(d.data.value, null, 2)
  return html`
    <div class="letter-detail">
      <div class="grid two tight">
        <div><h4>Record value</h4><pre class="code">${value}</pre></div>
        <div>
          <h4>Headers</h4>
          <dl class="facts small">${Object.entries(d.data.headers).map(([k, v]) => html`<dt>${k}</dt><dd class="mono">${v}</dd>`)}</dl>
          <h4>Position</h4><p class="mono small">${d.data.topic} partition ${d.data.partition} offset ${d.data.offset} · key ${d.data.key}</p>
          ${d.data.parked.length > 0 && html`<h4>Parked behind it (${d.data.parked.length})</h4>
            <ul class="small">${d.data.parked.map((p) => html`<li class="mono">${p.messageType ?? '?'} @${p.offset} · ${ago(p.parkedAt)}</li>`)}</ul>`}
        </div>
      </div>
    </div>`
}

export function DeadLetters(props: { session: Session }) {
  const admin = isAdmin(props.session)
  const [tab, setTab] = useState<Tab>('open')
  const [page, setPage] = useState(0)
  const [topic, setTopic] = useState('')
  const [group, setGroup] = useState('')
  const [expanded, setExpanded] = useState<string | null>(null)
  const [outcomes, setOutcomes] = useState<Record<string, { kind: 'ok' | 'bad' | 'wait'; text: string }>>({})
  const action = useAction()
  const filter = `${topic ? `&topic=${encodeURIComponent(topic)}` : ''}${group ? `&group=${encodeURIComponent(group)}` : ''}`
  const primary = useResource<Page<Letter>>(`/api/dlq?status=${tab === 'open' ? 'DEAD' : tab}&page=${page}&size=${SIZE}${filter}`, { everyMs: 5_000 })
  const requested = useResource<Page<Letter>>(tab === 'open' ? `/api/dlq?status=REPLAY_REQUESTED&page=0&size=100${filter}` : null, { everyMs: 2_000 })

  // Follow replays until the owning consumer has decided.
  const following = useRef(new Set<string>())
  useEffect(() => {
    const t = setInterval(async () => {
      for (const id of [...following.current]) {
        try {
          const l = await api<Letter>(`/api/dlq/${id}`)
          if (l.status === 'REPLAY_REQUESTED') continue
          following.current.delete(id)
          setOutcomes((o) => ({
            ...o,
            [id]: l.status === 'REPLAYED'
              ? { kind: 'ok', text: `Replayed: the ${l.consumerGroup} consumer applied it.` }
              : { kind: 'bad', text: `Replay failed; it is ${l.status} again after ${l.attempts} attempts: ${l.error}` },
          }))
          primary.reload()
          requested.reload()
        } catch (e) {
          following.current.delete(id)
          setOutcomes((o) => ({ ...o, [id]: { kind: 'bad', text: (e as ApiError).detail ?? String(e) } }))
        }
      }
    }, 1_000)
    return () => clearInterval(t)
  }, [])

  const act = async (l: Letter, kind: 'replay' | 'discard') => {
    const updated = await action.run(`${kind} ${l.id}`, () => api<Letter>(`/api/dlq/${l.id}/${kind}`, { method: 'POST' }))
    if (!updated) return
    if (kind === 'replay') {
      following.current.add(l.id)
      setOutcomes((o) => ({ ...o, [l.id]: { kind: 'wait', text: 'Replay requested; waiting for the consumer…' } }))
    } else {
      setOutcomes((o) => ({ ...o, [l.id]: { kind: 'ok', text: `Discarded by ${updated.resolvedBy ?? 'you'}.` } }))
    }
    primary.reload()
    requested.reload()
  }

  const rows = [...(requested.data?.content ?? []), ...(primary.data?.content ?? [])]
  const total = (primary.data?.totalElements ?? 0) + (requested.data?.totalElements ?? 0)
  const p = primary.data
  const messages = Object.entries(outcomes).filter(([id]) => !rows.some((r) => r.id === id))

  return html`
    <main class="page" data-testid="dlq">
      <div class="toolbar">
        <h1>Dead letters</h1>
        <div class="seg">
          ${(['open', 'REPLAYED', 'DISCARDED'] as Tab[]).map((t) => html`<button class=${`btn small ${tab === t ? 'on' : ''}`} data-testid=${`dlq-tab-${t}`} onClick=${() => { setTab(t); setPage(0) }}>${t === 'open' ? 'waiting' : t.toLowerCase()}</button>`)}
        </div>
        <input class="input small" placeholder="topic" value=${topic} onChange=${(e: Event) => { setTopic((e.target as HTMLInputElement).value.trim()); setPage(0) }} data-testid="dlq-topic" />
        <input class="input small" placeholder="consumer group" value=${group} onChange=${(e: Event) => { setGroup((e.target as HTMLInputElement).value.trim()); setPage(0) }} />
        ${!admin && html`<span class="muted small">Replay and discard are for admins.</span>`}
      </div>
      ${messages.length > 0 && html`<div class="notices" data-testid="dlq-outcomes">${messages.map(([id, m]) => html`<div class=${`notice ${m.kind}`} data-letter-id=${id} data-outcome=${m.kind}>${shortId(id)}: ${m.text}</div>`)}</div>`}
      ${action.error && html`<${ProblemBox} error=${action.error} compact />`}
      <${Panel} title=${tab === 'open' ? 'Waiting for an operator' : tab === 'REPLAYED' ? 'Replayed' : 'Discarded'} id="dead-letters"
        loading=${primary.loading} error=${primary.error ?? requested.error} retry=${() => { primary.reload(); requested.reload() }}
        actions=${p && html`
          <span class="muted small">${number(total)} letter${total === 1 ? '' : 's'}</span>
          ${p.totalPages > 1 && html`<span class="pager"><button class="btn small" disabled=${page === 0} onClick=${() => setPage(page - 1)}>‹</button> page ${page + 1} of ${p.totalPages} <button class="btn small" disabled=${page + 1 >= p.totalPages} onClick=${() => setPage(page + 1)}>›</button></span>`}`}
        empty=${!!p && rows.length === 0} emptyText=${tab === 'open' ? 'No dead letters: every record was applied.' : 'None.'}>
        ${rows.length > 0 && html`
          <table class="table letters" data-testid="dlq-table">
            <thead><tr><th>Received</th><th>Service · group</th><th>Topic</th><th>Type / key</th><th>Error</th><th class="num">Attempts</th><th>Status</th><th></th></tr></thead>
            <tbody>
              ${rows.map((l) => html`
                <tr data-letter-id=${l.id} data-letter-status=${l.status} data-attempts=${l.attempts}>
                  <td title=${dateTime(l.createdAt)}>${ago(l.createdAt)}</td>
                  <td><span class="mono">${l.source}</span> · <span class="mono small">${l.consumerGroup}</span></td>
                  <td class="mono">${l.topic}<div class="muted small">p${l.partition} @${l.offset}</div></td>
                  <td><span class="mono">${l.messageType ?? '(unreadable)'}</span><div class="muted small mono" title=${l.key}>${l.key}</div>
                    ${l.parkedCount > 0 && html`<div class="flag warn">${l.parkedCount} parked behind</div>`}</td>
                  <td class="error-cell"><span class="error-text" title=${l.error}>${l.error}</span>
                    ${outcomes[l.id] && html`<div class=${`notice ${outcomes[l.id]?.kind}`} data-outcome=${outcomes[l.id]?.kind}>${outcomes[l.id]?.text}</div>`}</td>
                  <td class="num">${l.attempts}</td>
                  <td><${StatusBadge} status=${l.status} />${l.resolvedBy && html`<div class="muted small">by ${l.resolvedBy}</div>`}</td>
                  <td><div class="row-actions">
                    <button class="btn ghost small" onClick=${() => setExpanded(expanded === l.id ? null : l.id)}>${expanded === l.id ? 'Hide' : 'Inspect'}</button>
                    ${admin && l.status === 'DEAD' && html`
                      <button class="btn small" data-testid="replay" disabled=${!!action.busy} onClick=${() => act(l, 'replay')}>Replay</button>
                      <${Confirm} label="Discard" confirmLabel="Yes, discard" danger busy=${action.busy === `discard ${l.id}`} onConfirm=${() => act(l, 'discard')} testid="discard" />`}
                  </div></td>
                </tr>
                ${expanded === l.id && html`<tr class="detail-row"><td colspan="8"><${Detail} id=${l.id} /></td></tr>`}`)}
            </tbody>
          </table>`}
      </${Panel}>
    </main>`
}
