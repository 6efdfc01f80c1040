// A small history router: the server answers index.html for every client route (console/src/server/static.ts).
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { html } from './html.ts'

const listeners = new Set<() => void>()
window.addEventListener('popstate', () => listeners.forEach((l) => l()))

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return
  history[replace ? 'replaceState' : 'pushState'](null, '', to)
  listeners.forEach((l) => l())
  window.scrollTo(0, 0)
}

/**
 * Replaces the address while a view is being rendered, without notifying anyone: the caller renders the view of
 * the new address in the same pass. (navigate() from a first render would notify listeners that subscribe only
 * after it, so the new address would never be rendered.)
 */
export function redirect(to: string) {
  if (to !== location.pathname + location.search) history.replaceState(null, '', to)
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0)
  useEffect(() => {
    const l = () => setTick((t) => t + 1)
    listeners.add(l)
    return () => listeners.delete(l)
  }, [])
  return { path: location.pathname, query: new URLSearchParams(location.search) }
}

/** '/orders/:id' against '/orders/42' → { id: '42' }; null when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean)
  const s = path.split('/').filter(Boolean)
  if (p.length !== s.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    const want = p[i] as string
    const got = s[i] as string
    if (want.startsWith(':')) params[want.slice(1)] = decodeURIComponent(got)
    else if (want !== got) return null
  }
  return params
}

export function Link(props: { href: string; class?: string; title?: string; children?: ComponentChildren; 'data-testid'?: string }) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(props.href)
  }
  return html`<a href=${props.href} class=${props.class} title=${props.title} data-testid=${props['data-testid']} onClick=${onClick}>${props.children}</a>`
}
