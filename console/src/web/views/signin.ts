import { useEffect, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api, ApiError } from '../api.ts'
import { navigate, useLocation } from '../router.ts'
import { homeOf, signIn, type Role, type Session } from '../session.ts'

interface DevOffer {
  roles: Role[]
  ttlSeconds: number
  note: string
}

/**
 * Development mode's offer of a token per role. The console serves GET /api/dev/tokens only when
 * TRACKOPS_DEV_MODE=true; any other answer (404) means no offer, and nothing is shown.
 */
function useDevOffer(): DevOffer | null {
  const [offer, setOffer] = useState<DevOffer | null>(null)
  useEffect(() => {
    const controller = new AbortController()
    api<DevOffer>('/api/dev/tokens', { signal: controller.signal }).then(setOffer, () => setOffer(null))
    return () => controller.abort()
  }, [])
  return offer
}

export function SignIn() {
  const { query } = useLocation()
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState<Role | null>(null)
  const offer = useDevOffer()

  const enter = (session: Session) => {
    const next = query.get('next')
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : homeOf(session), true)
  }
  const submit = (e: Event) => {
    e.preventDefault()
    const result = signIn(token)
    if ('error' in result) {
      setError(result.error)
      return
    }
    enter(result)
  }
  const signInAs = async (role: Role) => {
    setBusy(role)
    setError(null)
    try {
      const minted = await api<{ token: string }>('/api/dev/tokens', { method: 'POST', body: { role } })
      const result = signIn(minted.token)
      if ('error' in result) setError(result.error)
      else enter(result)
    } catch (e) {
      setError(e instanceof ApiError ? `${e.title}: ${e.detail}` : String(e))
    } finally {
      setBusy(null)
    }
  }

  return html`
    <main class="signin">
      <form class="panel signin-card" onSubmit=${submit} data-testid="signin-form">
        <h1>TrackOps <span class="muted">console</span></h1>
        ${offer && html`
          <section class="dev-signin" data-testid="dev-signin">
            <p><strong>Development mode.</strong> Sign in as a role with a token the console signs for you:</p>
            <div class="dev-roles">
              ${offer.roles.map((role) => html`
                <button type="button" class="btn" data-testid=${`dev-signin-${role}`} disabled=${busy !== null} onClick=${() => signInAs(role)}>
                  ${busy === role ? 'Signing in…' : `Sign in as ${role}`}
                </button>`)}
            </div>
            <p class="muted small">A customer is a new customer with no orders yet. ${offer.note}</p>
          </section>`}
        <p>Paste a bearer token (a JWT). It stays in this tab only (sessionStorage) and is sent to the TrackOps APIs, which decide what you may see.</p>
        <label for="token">Bearer token</label>
        <textarea id="token" name="token" rows="5" class="input mono" placeholder="eyJhbGciOi…" data-testid="token-input"
          value=${token} onInput=${(e: Event) => setToken((e.target as HTMLTextAreaElement).value)} autofocus></textarea>
        ${error && html`<div class="problem" role="alert" data-testid="signin-error">${error}</div>`}
        <button class="btn primary" type="submit" data-testid="signin-submit" disabled=${!token.trim()}>Sign in</button>
        <details class="hint">
          <summary>Local development: where do I get a token?</summary>
          <pre>${'npm run token -- --role operator\nnpm run token -- --role admin\nnpm run token -- --role customer --sub <customer-uuid>'}</pre>
          <p>Customers see the tracking page and their own orders; operators see the orders board, inventory and operations; admins may also replay dead letters, retry or compensate sagas, adjust stock and restart connectors.</p>
        </details>
      </form>
    </main>`
}
