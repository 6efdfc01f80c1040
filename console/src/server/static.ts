// The production build (console/dist) as static files, and index.html for every client-side route so a
// reload or a shared link of /orders/{id} or /track/{id} opens the right view.
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type App } from '@trackops/http'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/** Client-side routes of the SPA (console/src/web/router.ts). */
export const spaRoutes = ['/signin', '/board', '/orders', '/orders/*', '/my-orders', '/inventory', '/ops', '/ops/*', '/track', '/track/*']

// Hashed file names never change content, so they may be cached for good; index.html must always be fresh.
const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join('; ')

export function registerStatic(app: App, dir: string) {
  const root = path.resolve(dir)
  const notBuilt = () =>
    new AppError('console.unavailable', `The console is not built (no ${path.join(root, 'index.html')}). Run \`npm run console:build\`, then reload.`)

  async function sendIndex(reply: FastifyReply) {
    let html: string
    try {
      html = await readFile(path.join(root, 'index.html'), 'utf8')
    } catch {
      throw notBuilt()
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .send(html)
  }

  async function sendAsset(req: FastifyRequest, reply: FastifyReply) {
    const relative = decodeURIComponent(req.url.split('?')[0] ?? '').replace(/^\/+/, '')
    const file = path.resolve(root, relative)
    if (!file.startsWith(root + path.sep)) throw new AppError('request.not-found', 'No such file.')
    const info = await stat(file).catch(() => null)
    if (!info?.isFile()) throw new AppError('request.not-found', `No such file: /${relative}. Rebuild the console if it was just updated.`)
    return reply
      .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
      .header('content-length', info.size)
      .header('cache-control', relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(createReadStream(file))
  }

  const route = { config: { auth: 'public' as const, rateClass: 'exempt' as const }, schema: { hide: true } }
  for (const url of spaRoutes) app.get(url, route, (_req, reply) => sendIndex(reply))
  app.get('/assets/*', route, sendAsset)
  app.get('/favicon.svg', route, sendAsset)

  // GET / is the service description for API clients (createApp); a browser asking for HTML gets the console.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?')) && String(req.headers.accept ?? '').includes('text/html')) {
      return sendIndex(reply)
    }
  })
}
