import { render, type VNode } from 'preact'
import { useEffect } from 'preact/hooks'
import { html } from './html.ts'
import { Link, matchPath, navigate, redirect, useLocation } from './router.ts'
import { homeOf, isAdmin, isStaff, signOut, useSession, type Role, type Session } from './session.ts'
import { SignIn } from './views/signin.ts'
import { Board } from './views/board.ts'
import { OrderPage } from './views/order.ts'
import { Inventory } from './views/inventory.ts'
import { Operations } from './views/ops.ts'
import { DeadLetters } from './views/dlq.ts'
import { Track, TrackLookup } from './views/track.ts'
import { MyOrders } from './views/my-orders.ts'
import './styles.css'

interface RouteDef {
  pattern: string
  roles: Role[] | 'any'
  view: (params: Record<string, string>, session: Session) => VNode
  title: string
}

const staff: Role[] = ['operator', 'admin']
const routes: RouteDef[] = [
  { pattern: '/board', roles: staff, title: 'Orders board', view: (_, s) => html`<${Board} session=${s} />` },
  { pattern: '/orders/:id', roles: staff, title: 'Order', view: (p, s) => html`<${OrderPage} id=${p.id} session=${s} />` },
  { pattern: '/inventory', roles: staff, title: 'Inventory', view: (_, s) => html`<${Inventory} session=${s} />` },
  { pattern: '/ops', roles: staff, title: 'Operations', view: (_, s) => html`<${Operations} session=${s} />` },
  { pattern: '/ops/dlq', roles: staff, title: 'Dead letters', view: (_, s) => html`<${DeadLetters} session=${s} />` },
  { pattern: '/my-orders', roles: 'any', title: 'My orders', view: (_, s) => html`<${MyOrders} session=${s} />` },
  { pattern: '/track', roles: 'any', title: 'Track an order', view: () => html`<${TrackLookup} />` },
  { pattern: '/track/:orderId', roles: 'any', title: 'Track order', view: (p, s) => html`<${Track} orderId=${p.orderId} session=${s} />` },
]

function Nav(props: { session: Session; path: string }) {
  const s = props.session
  const item = (href: string, label: string) =>
    html`<${Link} href=${href} class=${props.path === href || (href !== '/ops' && props.path.startsWith(`${href}/`)) ? 'active' : ''}>${label}</${Link}>`
  return html`
    <header class="topbar">
      <${Link} href=${homeOf(s)} class="brand">TrackOps<span>console</span></${Link}>
      <nav>
        ${isStaff(s) && item('/board', 'Orders')}
        ${isStaff(s) && item('/inventory', 'Inventory')}
        ${isStaff(s) && item('/ops', 'Operations')}
        ${isStaff(s) && item('/ops/dlq', 'Dead letters')}
        ${!isStaff(s) && item('/my-orders', 'My orders')}
        ${item('/track', 'Track')}
      </nav>
      <div class="whoami" data-testid="whoami" data-role=${s.role} data-sub=${s.sub}>
        <span class=${`role role-${s.role}`}>${s.role}</span>
        <span class="sub" title=${`subject ${s.sub}${s.expiresAt ? `, token valid until ${s.expiresAt.toLocaleString()}` : ''}`}>${s.sub}</span>
        <button class="btn ghost small" data-testid="sign-out" onClick=${() => { signOut(); navigate('/signin') }}>Sign out</button>
      </div>
    </header>`
}

function Forbidden(props: { session: Session; title: string; roles: Role[] }) {
  return html`
    <main class="page narrow">
      <section class="panel" data-testid="forbidden">
        <h1>${props.title}</h1>
        <p>This page is for ${props.roles.join(' or ')} roles. You are signed in as <strong>${props.session.role}</strong> (${props.session.sub}).</p>
        <p><${Link} href=${homeOf(props.session)}>Go to your start page</${Link}> or sign in with another token.</p>
      </section>
    </main>`
}

/** Where an address sends the visitor: `/` to their start page (or to sign-in), any page to sign-in when signed out. */
function landingOf(session: Session | null, path: string, search: string): string | null {
  if (!session) {
    if (path === '/signin') return null
    const next = path === '/' || path === '' ? '' : path + search
    return `/signin${next ? `?next=${encodeURIComponent(next)}` : ''}`
  }
  return path === '/' || path === '' ? homeOf(session) : null
}

function App() {
  const session = useSession()
  useLocation()

  const expired = session?.expiresAt ? session.expiresAt.getTime() <= Date.now() : false
  useEffect(() => {
    if (expired) signOut()
  }, [expired])

  const landing = landingOf(session, location.pathname, location.search)
  if (landing) redirect(landing)
  const path = location.pathname

  if (path === '/signin' || !session) return html`<${SignIn} />`
  for (const r of routes) {
    const params = matchPath(r.pattern, path)
    if (!params) continue
    document.title = `${r.title} · TrackOps`
    const allowed = r.roles === 'any' || session.roles.some((role) => (r.roles as Role[]).includes(role))
    return html`
      <div class="shell" data-admin=${isAdmin(session) ? 'yes' : 'no'}>
        <${Nav} session=${session} path=${path} />
        ${allowed ? r.view(params, session) : html`<${Forbidden} session=${session} title=${r.title} roles=${r.roles} />`}
      </div>`
  }
  return html`
    <div class="shell">
      <${Nav} session=${session} path=${path} />
      <main class="page narrow"><section class="panel"><h1>Not found</h1><p>No page at <code>${path}</code>. <${Link} href=${homeOf(session)}>Start page</${Link}></p></section></main>
    </div>`
}

render(html`<${App} />`, document.getElementById('app') as HTMLElement)
