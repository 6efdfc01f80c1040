import { useState } from 'preact/hooks'
import { html } from '../html.ts'
import { navigate, useLocation } from '../router.ts'
import { homeOf, signIn } from '../session.ts'

export function SignIn() {
  const { query } = useLocation()
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const submit = (e: Event) => {
    e.preventDefault()
    const result = signIn(token)
    if ('error' in result) {
      setError(result.error)
      return
    }
    const next = query.get('next')
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : homeOf(result), true)
  }
  return html`
    <main class="signin">
      <form class="panel signin-card" onSubmit=${submit} data-testid="signin-form">
        <h1>TrackOps <span class="muted">console</span></h1>
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
