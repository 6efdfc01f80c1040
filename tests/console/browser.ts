// Debian's Chromium driven by playwright-core for the console tests: never a downloaded browser, a fresh
// profile per run, and one page (one sessionStorage, so one signed-in user) per role.
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { testEnv } from '../support/env.ts'

export const consoleUrl = testEnv.urls.console
// A test run leaves the committed screenshots alone unless asked (UPDATE_SCREENSHOTS=1 npm test -- tests/console).
export const screenshotDir = process.env['UPDATE_SCREENSHOTS'] === '1'
  ? path.resolve(import.meta.dirname, '../../docs/screenshots')
  : path.resolve(import.meta.dirname, '../../.stack/screenshots')
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface Browser {
  context: BrowserContext
  /**
   * A new tab that opens the console's address (`/`, as in the README), is sent to sign-in, signs in with this token
   * through the form and lands on the start page of its role; then opens `startAt`, if given, like a followed link.
   */
  signedIn(token: string, startAt?: string): Promise<Page>
  close(): Promise<void>
}

/** Opens the console's address signed out and signs in with the token through the form; resolves on the start page. */
export async function signInFromRoot(page: Page, base: string, token: string) {
  await page.goto(`${base}/`)
  await page.waitForURL((url) => url.pathname === '/signin')
  await page.fill('[data-testid=token-input]', token)
  await page.click('[data-testid=signin-submit]')
  await page.waitForSelector('[data-testid=whoami]')
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'trackops-console-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
  })
  const errors: string[] = []
  context.on('page', (page) => page.on('pageerror', (e) => errors.push(e.message)))
  return {
    context,
    async signedIn(token, startAt) {
      const page = await context.newPage()
      page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
      await signInFromRoot(page, consoleUrl, token)
      if (startAt && new URL(page.url()).pathname !== startAt) {
        // The token stays in the tab (sessionStorage), as when a signed-in person opens a link.
        await page.goto(`${consoleUrl}${startAt}`)
        await page.waitForSelector('[data-testid=whoami]')
      }
      return page
    },
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
      if (errors.length) throw new Error(`script errors in the console:\n${errors.join('\n')}`)
    },
  }
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(screenshotDir, { recursive: true })
  // Let the last live update and the fonts settle, so the picture shows what a person would see.
  await page.waitForTimeout(400)
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true })
}
