// The console in a real browser against the running stack (orders, inventory, payments, relay, console on
// their ports; Kafka and Kafka Connect up): `npm run up`, then `npm test`. Screenshots of every main view are
// written to .stack/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
import { randomBytes, randomUUID } from 'node:crypto'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import type { Locator } from 'playwright-core'
import { createDb } from '@trackops/runtime'
import { createKafkaProducer, newMessage, type KafkaProducer } from '@trackops/messaging'
import { testEnv, tokenFor } from '../support/env.ts'
import { eventually, freePort, stopChild } from '../support/stack.ts'
import { consoleUrl, launchBrowser, screenshot, signInFromRoot, type Browser } from './browser.ts'

const PRODUCT = 'PROD-004'

interface Order {
  id: string
  customerId: string
  status: string
}
interface Letter {
  id: string
  status: string
  attempts: number
  error: string
}

async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${consoleUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T }
}

async function placeOrder(customerId: string): Promise<Order> {
  const token = await tokenFor('customer', customerId)
  const res = await call<Order>('POST', '/api/orders', token, {
    customerId,
    address: { streetAddress: '12 Harbour Street', city: 'Lisbon', postalCode: '1100-001', country: 'Portugal', phoneNumber: '+351 912 345 678' },
    items: [{ productId: PRODUCT, quantity: 1 }],
  })
  expect(res.status, JSON.stringify(res.body)).toBe(201)
  return res.body
}

const orderStatus = async (id: string, token: string) => (await call<Order>('GET', `/api/orders/${id}`, token)).body.status
// A saga under load, behind whatever its consumers still have queued from earlier files, can take a while.
const SAGA_MS = 60_000

async function confirmedOrderOf(customerId: string, operator: string): Promise<Order> {
  const order = await placeOrder(customerId)
  await eventually(async () => (await orderStatus(order.id, operator)) === 'CONFIRMED', SAGA_MS, `order ${order.id} to be confirmed`)
  return order
}

describe('the TrackOps console in a browser', () => {
  let browser: Browser
  let operator: string
  const operatorSub = `operator-${randomUUID().slice(0, 8)}`
  let admin: string
  let producer: KafkaProducer | null = null
  const customerId = randomUUID()
  let placedOnBoard: Order | undefined
  // The order the first test watched being confirmed (placed here when that test could not place it).
  const confirmedOrder = async () => {
    const order = (placedOnBoard ??= await placeOrder(customerId))
    await eventually(async () => (await orderStatus(order.id, operator)) === 'CONFIRMED', SAGA_MS, `order ${order.id} to be confirmed`)
    return order
  }

  beforeAll(async () => {
    const health = await fetch(`${consoleUrl}/actuator/health`).catch((e: Error) => e)
    if (health instanceof Error || !health.ok) {
      throw new Error(`The console does not answer at ${consoleUrl} (${health instanceof Error ? health.message : health.status}): start the stack with npm run up (or bash scripts/services.sh start).`)
    }
    operator = await tokenFor('operator', operatorSub)
    admin = await tokenFor('admin', `admin-${randomUUID().slice(0, 8)}`)
    // Each run sells a few units: keep the product in stock so the saga confirms.
    const item = await call<{ availableQuantity: number }>('GET', `/api/inventory/items/${PRODUCT}`, admin)
    expect(item.status, `${PRODUCT} must be seeded (npm run seed)`).toBe(200)
    if (item.body.availableQuantity < 30) {
      const topUp = await call('POST', `/api/inventory/items/${PRODUCT}/adjustments`, admin, { quantity: 100, reason: 'RECEIVED', note: 'console test restock' })
      expect(topUp.status).toBe(201)
    }
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await producer?.close()
    await browser?.close()
  })

  it('when a person opens the console address signed out, then it shows sign-in; signed in, the start page of their role', async () => {
    const page = await browser.context.newPage()
    await page.goto(`${consoleUrl}/`)
    await page.locator('[data-testid=signin-form]').waitFor({ timeout: 15_000 })
    expect(new URL(page.url()).pathname).toBe('/signin')
    await page.close()

    const signedIn = await browser.context.newPage()
    await signInFromRoot(signedIn, consoleUrl, operator)
    await signedIn.locator('[data-testid=board]').waitFor({ timeout: 15_000 })
    expect(new URL(signedIn.url()).pathname).toBe('/board')
    // Signed in, the address opens the start page again (not a blank page).
    await signedIn.goto(`${consoleUrl}/`)
    await signedIn.locator('[data-testid=board]').waitFor({ timeout: 15_000 })
    expect(new URL(signedIn.url()).pathname).toBe('/board')
    await signedIn.close()

    const customerPage = await browser.signedIn(await tokenFor('customer', randomUUID()))
    expect(new URL(customerPage.url()).pathname).toBe('/my-orders')
    expect(await customerPage.locator('[data-testid=whoami]').getAttribute('data-role')).toBe('customer')
    await customerPage.goto(`${consoleUrl}/`)
    await customerPage.waitForURL((url) => url.pathname === '/my-orders')
    await customerPage.locator('[data-testid=whoami]').waitFor()
    await customerPage.close()

    // A shared link opened signed out goes through sign-in and on to the page it named.
    const linked = await browser.context.newPage()
    await linked.goto(`${consoleUrl}/ops`)
    await linked.locator('[data-testid=signin-form]').waitFor({ timeout: 15_000 })
    expect(new URL(linked.url()).searchParams.get('next')).toBe('/ops')
    await linked.fill('[data-testid=token-input]', operator)
    await linked.click('[data-testid=signin-submit]')
    await linked.locator('[data-testid=operations]').waitFor({ timeout: 15_000 })
    await linked.close()
  })

  it('when development mode is on, then the sign-in page signs in as each role without a token from a terminal', async () => {
    for (const [role, home] of [['customer', '/my-orders'], ['operator', '/board'], ['admin', '/board']] as const) {
      const page = await browser.context.newPage()
      await page.goto(`${consoleUrl}/`)
      const button = page.locator(`[data-testid=dev-signin-${role}]`)
      await button.waitFor({ timeout: 15_000 })
      if (role === 'customer') await screenshot(page, 'signin')
      await button.click()
      await page.locator(`[data-testid=whoami][data-role=${role}]`).waitFor({ timeout: 15_000 })
      expect(new URL(page.url()).pathname).toBe(home)
      await page.close()
    }
  })

  it('when development mode is off, then the sign-in page offers no roles and the console mints no tokens', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['console/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      // A real secret instead of the development one: what any deployment outside a laptop runs with.
      env: { ...process.env, TRACKOPS_DEV_MODE: 'false', JWT_SECRET: randomBytes(36).toString('base64'), CONSOLE_PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    })
    try {
      const base = `http://127.0.0.1:${port}`
      await eventually(async () => (await fetch(`${base}/actuator/health/liveness`)).ok, 30_000, 'the second console to start')
      expect((await fetch(`${base}/api/dev/tokens`)).status).toBe(404)
      expect((await fetch(`${base}/api/dev/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin' }) })).status).toBe(404)
      const page = await browser.context.newPage()
      const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/dev/tokens')
      await page.goto(`${base}/`)
      await page.locator('[data-testid=signin-form]').waitFor({ timeout: 15_000 })
      expect((await asked).status()).toBe(404) // the page asked, and was told there is no such thing
      expect(await page.locator('[data-testid=dev-signin]').count()).toBe(0)
      expect(await page.locator('[data-testid^=dev-signin-]').count()).toBe(0)
      await page.close()
    } finally {
      await stopChild(child)
    }
  })

  it('when a customer places an order, then it arrives on the operator board and turns CONFIRMED without a reload', async () => {
    const page = await browser.signedIn(operator, '/board')
    await page.waitForSelector('[data-testid=board]')
    const live = page.locator('[data-testid=live]')
    await page.locator('[data-testid=live][data-live=on]').waitFor({ timeout: 15_000 }).catch(async () => {
      throw new Error(`the board has no live stream (GET /api/orders/events): ${await live.getAttribute('title') ?? await live.innerText()}`)
    })
    await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true })

    const confirmed = await placeOrder(customerId)
    placedOnBoard = confirmed
    const card = page.locator(`[data-column=CONFIRMED] [data-order-id="${confirmed.id}"]`)
    await card.waitFor({ state: 'visible', timeout: SAGA_MS })

    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true)
    expect(await page.locator(`[data-order-id="${confirmed.id}"]`).count()).toBe(1) // one card, moved, not copied
    await screenshot(page, 'board')

    // Searching by id narrows the board to that order.
    await page.fill('[data-testid=search]', confirmed.id.slice(0, 13))
    await eventually(async () => (await page.locator('[data-column] [data-order-id]').count()) === 1, 15_000, 'the search to narrow the board')
    await page.fill('[data-testid=search]', '')

    // The list view renders only the rows in view, however many orders there are.
    await page.click('[data-testid=mode-list]')
    const list = page.locator('[data-testid=order-list]')
    await list.locator(`[data-order-id="${confirmed.id}"]`).waitFor({ timeout: 15_000 })
    // Both counts come from one render: read them together (the live stream may add rows between two reads).
    const { rows, rendered } = await list.evaluate((el) => ({ rows: Number(el.dataset['rows']), rendered: Number(el.dataset['rendered']) }))
    expect(rows).toBeGreaterThan(0)
    expect(rendered).toBeLessThanOrEqual(Math.min(rows, 40))
    await page.close()
  })

  it('when the operator opens the order, then its saga steps, payment and reservation are shown and the address is masked', async () => {
    const confirmed = await confirmedOrder()
    const page = await browser.signedIn(operator, '/board')
    await page.locator(`[data-column=CONFIRMED] [data-order-id="${confirmed.id}"] a`).click()
    await page.waitForURL(`**/orders/${confirmed.id}`)
    const steps = page.locator('[data-testid=saga-steps][data-saga-status=COMPLETED]')
    await steps.waitFor({ timeout: 15_000 })
    for (const step of ['RESERVE_INVENTORY', 'PROCESS_PAYMENT']) {
      await expect(steps.locator(`tr[data-step=${step}]`).getAttribute('data-step-status')).resolves.toBe('COMPLETED')
    }
    await page.locator('[data-testid=payment]').waitFor()
    await page.locator('[data-testid=reservations]').waitFor()
    await page.locator('[data-testid=timeline] li[data-to=CONFIRMED]').waitFor()
    const address = page.locator('[data-testid=address]')
    expect(await address.getAttribute('data-masked')).toBe('yes')
    expect(await address.innerText()).not.toContain('Harbour')
    expect(await address.innerText()).not.toContain('912 345')
    await screenshot(page, 'order')
    await page.close()
  })

  it('when an operator cancels a confirmed order, then the page shows it CANCELLED with the operator as cause', async () => {
    const order = await confirmedOrderOf(customerId, operator)
    const page = await browser.signedIn(operator, `/orders/${order.id}`)
    await page.locator('[data-testid=order-page][data-status=CONFIRMED]').waitFor()
    await page.click('[data-testid=cancel]')
    await page.fill('[data-testid=cancel-note]', 'customer called to cancel')
    await page.click('[data-testid=cancel-confirm]')
    await page.locator('[data-testid=order-page][data-status=CANCELLED]').waitFor({ timeout: SAGA_MS }) // refund and release first
    const cancelled = page.locator('[data-testid=timeline] li[data-to=CANCELLED]')
    await cancelled.waitFor({ timeout: 15_000 })
    expect(await cancelled.innerText()).toContain('operator')
    expect(await orderStatus(order.id, operator)).toBe('CANCELLED')
    // The order itself says why and who, as GET /api/orders/{id} does.
    const cancellation = page.locator(`[data-testid=cancellation][data-cancelled-by="${operatorSub}"]`)
    await cancellation.waitFor({ timeout: 15_000 })
    expect(await cancellation.locator('[data-testid=cancellation-reason]').innerText()).toBe('customer called to cancel')
    const asApi = (await call<{ cancellationReason: string; cancelledBy: string }>('GET', `/api/orders/${order.id}`, operator)).body
    expect(asApi).toMatchObject({ cancellationReason: 'customer called to cancel', cancelledBy: operatorSub })
    await page.close()
  })

  it('when an admin adjusts stock, then the inventory view shows the new level', async () => {
    // A product of this test's own, in a category of its own: the seeded ones are sold by the other tests (and by
    // anyone else using the stack), so their level could move between the two reads.
    const category = `Console ${randomUUID().slice(0, 8)}`
    const productId = `CONSOLE-${randomUUID().slice(0, 8)}`
    const created = await call('POST', '/api/inventory/items', admin, { productId, productName: `Console test ${productId}`, availableQuantity: 10, unitPrice: 3, category })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const available = async (row: Locator) => Number((await row.locator('[data-testid=available]').innerText()).replace(/\D/g, ''))

    const page = await browser.signedIn(admin, '/inventory')
    await page.locator('[data-testid=stock-table]').waitFor()
    await page.locator('[data-testid=reservations-table]').waitFor({ timeout: 10_000 }).catch(() => undefined)
    await screenshot(page, 'inventory')
    // The product may also be on the unfiltered first page, which the filter then replaces: act on the filtered list.
    await page.fill('[data-testid=category-filter]', category)
    await page.locator('[data-testid=category-filter]').blur()
    const listed = () => page.locator('[data-testid=stock-table]').evaluate((t) => Array.from(t.querySelectorAll('tr[data-product-id]'), (r) => r.getAttribute('data-product-id')))
    await eventually(async () => JSON.stringify(await listed()) === JSON.stringify([productId]), 15_000, `the list filtered to ${category}`)
    const row = page.locator(`[data-testid=stock-table] tr[data-product-id="${productId}"]`)
    expect(await available(row)).toBe(10)
    await row.locator(`[data-testid=adjust-${productId}]`).click()
    await row.locator('[data-testid=adjust-quantity]').fill('5')
    await row.locator('[data-testid=adjust-submit]').click()
    await eventually(async () => (await available(row)) === 15, 15_000, 'the new stock level')
    await page.close()

    const seenByOperator = await browser.signedIn(operator, '/inventory')
    await seenByOperator.fill('[data-testid=category-filter]', category)
    await seenByOperator.locator('[data-testid=category-filter]').blur()
    await seenByOperator.locator(`[data-testid=stock-table] tr[data-product-id="${productId}"]`).waitFor()
    expect(await seenByOperator.locator(`[data-testid=adjust-${productId}]`).count()).toBe(0) // admins only
    await seenByOperator.close()
  })

  it('when an operator opens operations, then every service, Kafka, the connectors and the live charts are shown', async () => {
    const page = await browser.signedIn(operator, '/ops')
    for (const name of ['console', 'orders', 'inventory', 'payments', 'relay', 'kafka', 'kafka-connect']) {
      await page.locator(`[data-testid=health] [data-service="${name}"]`).waitFor({ timeout: 15_000 })
    }
    // The console gives each health check 3 s; a loaded machine can miss that once. The panel refreshes every 5 s:
    // the orders card must show the service as not DOWN, whichever refresh that is.
    await page.locator('[data-testid=health] [data-service=orders]:not([data-service-status=DOWN])').waitFor({ timeout: 30_000 })
    await page.locator('[data-testid=connectors] tr[data-connector]').first().waitFor({ timeout: 30_000 })
    await page.locator('[data-testid=consumer-groups] tr[data-group]').first().waitFor({ timeout: 30_000 })
    // The stack runs the default strategy (debezium): the panel shows what each outbox connector captured, not a
    // count of rows nothing ever marks published.
    const outbox = page.locator('[data-testid=outbox][data-strategy=debezium]')
    await outbox.waitFor({ timeout: 30_000 })
    for (const source of ['orders', 'inventory', 'payments']) {
      await outbox.locator(`tr[data-source=${source}][data-connector-state=RUNNING][data-capturing=yes]`).waitFor({ timeout: 30_000 })
      expect(Number(await outbox.locator(`tr[data-source=${source}]`).getAttribute('data-lag-bytes'))).toBeGreaterThanOrEqual(0)
    }
    expect(await outbox.locator('th').allInnerTexts()).not.toContain('Unpublished')
    expect(await page.locator('[data-testid=outbox-explanation]').innerText()).toContain('nothing marks rows published')
    await page.locator('[data-testid=chart-orders] svg').waitFor()
    // Two refreshes of the charts (every 5 s) give the orders-per-minute line a first rate.
    await page.waitForTimeout(11_000)
    await screenshot(page, 'operations')
    expect(await page.locator('[data-testid=restart-trackops-orders-outbox]').count()).toBe(0) // admins only
    await page.close()
  })

  it('when dead letters are replayed and discarded in the DLQ view, then the view follows the API', { timeout: 240_000 }, async () => {
    // 1. A schema-invalid record on inventory.events: the orders-saga consumer dead-letters it at once.
    const badKey = randomUUID()
    producer = createKafkaProducer({ brokers: testEnv.brokers, clientId: 'console-test' })
    await producer.send([{
      topic: 'inventory.events',
      key: badKey,
      value: JSON.stringify({ id: randomUUID(), type: 'INVENTORY_RESERVED', version: 1, occurredAt: new Date().toISOString(), aggregateType: 'order', aggregateId: badKey, correlationId: `console-test-${badKey}`, data: { orderId: badKey } }),
      headers: { type: 'INVENTORY_RESERVED', correlationId: `console-test-${badKey}` },
    }])
    const invalid = await eventually(async () =>
      (await call<{ content: Letter[] }>('GET', `/api/dlq?key=${badKey}&topic=inventory.events`, admin)).body.content[0], 150_000, 'the dead letter of the invalid record') // behind whatever the saga consumer still has queued
    expect(invalid.status).toBe('DEAD')

    // 2. A replayable one. Nothing in the services fails transiently on demand (their handlers answer every
    // valid message, and payment failures are events, not errors), so this stands for a record whose three
    // attempts met a passing outage: a valid LOW_STOCK record dead-lettered as the runner writes it. Replaying
    // it applies it for real through the orders-saga consumer.
    const goodKey = `PROD-CONSOLE-${randomUUID().slice(0, 8)}`
    const message = newMessage('LOW_STOCK', { productId: goodKey, available: 1, minStockLevel: 10 }, { correlationId: `console-test-${goodKey}` })
    const replayableId = randomUUID()
    const ordersDb = createDb(testEnv.ordersDb, { max: 1 })
    try {
      await sql`
        INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers, message_id, message_type, error, attempts)
        VALUES (${replayableId}, 'orders-saga', 'inventory.events', 0, ${1e12 + Math.floor(Math.random() * 1e12)}, ${goodKey}, ${JSON.stringify(message)},
                ${JSON.stringify({ id: message.id, type: message.type, correlationId: message.correlationId })}, ${message.id}, ${message.type},
                'connection terminated unexpectedly (simulated outage during every attempt)', 3)`.execute(ordersDb)
    } finally {
      await ordersDb.destroy()
    }

    const page = await browser.signedIn(admin, '/ops/dlq')
    await page.fill('[data-testid=dlq-topic]', 'inventory.events')
    await page.locator('[data-testid=dlq-topic]').blur()
    const invalidRow = page.locator(`tr[data-letter-id="${invalid.id}"]`)
    const replayableRow = page.locator(`tr[data-letter-id="${replayableId}"]`)
    await invalidRow.waitFor({ timeout: 15_000 })
    await replayableRow.waitFor({ timeout: 15_000 })

    // Operators see dead letters but cannot act on them: checked on a row they see while it is still DEAD.
    const readOnly = await browser.signedIn(operator, '/ops/dlq')
    await readOnly.fill('[data-testid=dlq-topic]', 'inventory.events')
    await readOnly.locator('[data-testid=dlq-topic]').blur()
    const seenRow = readOnly.locator(`tr[data-letter-id="${invalid.id}"][data-letter-status=DEAD]`)
    await seenRow.waitFor({ timeout: 15_000 })
    // The list is replaced while the topic filter loads: read the row's buttons from one render of it.
    const actions = await seenRow.evaluate((tr) => Array.from(tr.querySelectorAll('button'), (b) => b.getAttribute('data-testid') ?? b.textContent?.trim()))
    expect(actions).toEqual(['Inspect'])
    await readOnly.close()

    // Replaying the invalid record fails again: the row stays, DEAD, one attempt more, with the failure shown.
    // The owning consumer decides, between the records it still has queued.
    await invalidRow.locator('[data-testid=replay]').click()
    await page.locator(`tr[data-letter-id="${invalid.id}"] [data-outcome=bad]`).waitFor({ timeout: SAGA_MS })
    await page.locator(`tr[data-letter-id="${invalid.id}"][data-letter-status=DEAD][data-attempts="${invalid.attempts + 1}"]`).waitFor({ timeout: 30_000 })
    const afterReplay = (await call<Letter>('GET', `/api/dlq/${invalid.id}`, admin)).body
    expect(afterReplay).toMatchObject({ status: 'DEAD', attempts: invalid.attempts + 1 })
    await invalidRow.locator('button', { hasText: 'Inspect' }).click()
    expect(await page.locator('.letter-detail pre.code').innerText()).toContain(badKey)
    await screenshot(page, 'dlq')

    // Replaying the valid one applies it: it leaves the waiting list and the API says REPLAYED.
    await replayableRow.locator('[data-testid=replay]').click()
    await page.locator(`[data-testid=dlq-outcomes] [data-letter-id="${replayableId}"][data-outcome=ok]`).waitFor({ timeout: SAGA_MS })
    await replayableRow.waitFor({ state: 'detached', timeout: 30_000 })
    expect((await call<Letter>('GET', `/api/dlq/${replayableId}`, admin)).body.status).toBe('REPLAYED')

    // Discarding the invalid one removes it from the waiting list.
    await invalidRow.locator('[data-testid=discard]').click()
    await invalidRow.locator('[data-testid=discard-confirm]').click()
    await invalidRow.waitFor({ state: 'detached', timeout: 30_000 })
    expect((await call<Letter>('GET', `/api/dlq/${invalid.id}`, admin)).body.status).toBe('DISCARDED')
    await page.close()
  })

  it('when its customer opens the tracking page, then the live timeline shows; another customer is told the order is not found', async () => {
    const confirmed = await confirmedOrder()
    const page = await browser.signedIn(await tokenFor('customer', customerId), `/track/${confirmed.id}`)
    await page.locator('[data-testid=track][data-state=found]').waitFor({ timeout: 15_000 })
    await page.locator('[data-testid=timeline] li[data-to=CONFIRMED]').waitFor()
    await page.locator('[data-testid=stepper] li.done[data-step=CONFIRMED]').waitFor()
    await page.waitForSelector('[data-testid=live][data-live=on]', { timeout: 15_000 })
    expect(await page.locator('nav').innerText()).not.toContain('Operations') // customers see only their pages
    await screenshot(page, 'tracking')

    // The order moves on while the customer watches: processing shows up without a reload.
    const moved = await call<Order>('POST', `/api/orders/${confirmed.id}/process`, operator)
    expect(moved.status).toBe(200)
    // Announced after the commit, off the change stream (CDC, then the orders-cache consumer): seconds under load.
    await page.locator('[data-testid=track][data-status=PROCESSING]').waitFor({ timeout: 30_000 })
    await page.close()

    const stranger = await browser.signedIn(await tokenFor('customer', randomUUID()), `/track/${confirmed.id}`)
    await stranger.locator('[data-testid=track-not-found]').waitFor({ timeout: 15_000 })
    expect(await stranger.locator('body').innerText()).not.toContain(customerId)
    await stranger.goto(`${consoleUrl}/board`)
    await stranger.locator('[data-testid=forbidden]').waitFor()
    await stranger.close()
  })

  it('when a backend is down, then each panel shows its own error and what to do, and the rest keeps working', async () => {
    // A second console whose orders and relay point at a port nobody listens on.
    const port = await freePort()
    const dead = `http://127.0.0.1:${await freePort()}`
    const child = spawn(process.execPath, ['console/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, TRACKOPS_DEV_MODE: 'true', CONSOLE_PORT: String(port), ORDERS_URL: dead, RELAY_URL: dead, LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    })
    try {
      const base = `http://127.0.0.1:${port}`
      await eventually(async () => (await fetch(`${base}/actuator/health/liveness`)).ok, 30_000, 'the second console to start')
      const page = await browser.context.newPage()
      await page.goto(`${base}/signin?next=/ops`)
      await page.fill('[data-testid=token-input]', operator)
      await page.click('[data-testid=signin-submit]')
      const orders = page.locator('[data-testid=health] [data-service=orders]')
      await orders.waitFor({ timeout: 15_000 })
      expect(await orders.getAttribute('data-service-status')).toBe('DOWN')
      expect(await orders.innerText()).toContain('scripts/services.sh start orders')
      await page.locator('[data-testid=health] [data-service=inventory]:not([data-service-status=DOWN])').waitFor({ timeout: 30_000 })
      const outbox = page.locator('[data-panel=outbox] [data-testid=problem]')
      await outbox.waitFor({ timeout: 30_000 })
      expect(await outbox.getAttribute('data-status')).toBe('503')
      expect(await outbox.innerText()).toContain('relay service unavailable')
      await page.locator('[data-testid=connectors] tr[data-connector]').first().waitFor({ timeout: 30_000 }) // the rest still works

      await page.goto(`${base}/board`)
      const problem = page.locator('[data-testid=problem][data-code="orders.unavailable"]').first()
      await problem.waitFor({ timeout: 15_000 })
      expect(await problem.innerText()).toContain('orders service unavailable')
      await page.close()
    } finally {
      await stopChild(child)
    }
  })
})
