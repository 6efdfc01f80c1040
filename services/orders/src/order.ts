// The order, pure: types, the status machine, pricing and the validation of a new order. No I/O, no clock,
// no random ids. Money is integer cents; decimals exist only at the HTTP edge (amountToCents / centsToAmount).

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'PROCESSING' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED'
export const orderStatuses: readonly OrderStatus[] = ['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED']
export const isOrderStatus = (value: unknown): value is OrderStatus => orderStatuses.includes(value as OrderStatus)

/** Who or what changed an order's status. */
export type ChangeCause = 'customer' | 'operator' | 'saga' | 'timeout' | 'system'

/**
 * Who cancelled an order, as its representation says (cancelledBy): the subject of the customer or operator who
 * asked, `saga` when the saga cancelled it on its own (a reservation or payment failed, a step timed out), `system`
 * for anything else without a person behind it.
 */
export function cancelledByOf(cause: ChangeCause, actor: string | undefined): string {
  if (actor) return actor
  switch (cause) {
    case 'saga':
    case 'timeout':
      return 'saga'
    case 'system':
      return 'system'
    case 'customer':
    case 'operator':
      return cause
  }
}

export const CURRENCY = 'USD'

export interface Address {
  streetAddress: string
  city: string
  state: string | null
  postalCode: string
  country: string
  phoneNumber: string | null
}

export interface OrderItem {
  productId: string
  productName: string
  quantity: number
  unitPriceCents: number
  totalCents: number
}

export interface Order {
  id: string
  customerId: string
  status: OrderStatus
  totalCents: number
  currency: string
  address: Address
  deliveryInstructions: string | null
  paymentToken: string | null
  items: OrderItem[]
  /** Why a CANCELLED order was cancelled; null for any other status. */
  cancellationReason: string | null
  /** Who cancelled it: the customer's or operator's subject, `saga` (a failed step or a timeout) or `system`. */
  cancelledBy: string | null
  createdAt: Date
  updatedAt: Date
  version: number
}

// --- status machine -------------------------------------------------------------------------------------------

const forward: Record<OrderStatus, OrderStatus | null> = {
  PENDING: 'CONFIRMED',
  CONFIRMED: 'PROCESSING',
  PROCESSING: 'SHIPPED',
  SHIPPED: 'DELIVERED',
  DELIVERED: null,
  CANCELLED: null,
}

export const isTerminal = (status: OrderStatus) => status === 'DELIVERED' || status === 'CANCELLED'

export type TransitionDecision = { kind: 'same' } | { kind: 'allowed' } | { kind: 'refused'; reason: string }

/** PENDING → CONFIRMED → PROCESSING → SHIPPED → DELIVERED; CANCELLED from any non-terminal state. */
export function decideTransition(from: OrderStatus, to: OrderStatus): TransitionDecision {
  if (from === to) return { kind: 'same' }
  if (isTerminal(from)) return { kind: 'refused', reason: `${from === 'DELIVERED' ? 'Delivered' : 'Cancelled'} orders cannot change status (asked for ${to}).` }
  if (to === 'CANCELLED' || forward[from] === to) return { kind: 'allowed' }
  return { kind: 'refused', reason: `A ${from} order can only become ${forward[from]} or CANCELLED, not ${to}.` }
}

// --- money ------------------------------------------------------------------------------------------------------

export const MIN_TOTAL_CENTS = 1
export const MAX_TOTAL_CENTS = 99_999_999

/** A JSON number with at most two decimals → cents; null when it has more precision than cents. */
export function amountToCents(amount: number): number | null {
  if (!Number.isFinite(amount)) return null
  const cents = Math.round(amount * 100)
  return Math.abs(amount * 100 - cents) < 1e-6 ? cents : null
}

export const centsToAmount = (cents: number) => cents / 100

/** A decimal string as Debezium sends numeric columns ("199.99", "5", "-0.5") → cents; null when not exact. */
export function decimalToCents(value: string): number | null {
  const m = /^(-?)(\d+)(?:\.(\d{1,2})0*)?$/.exec(value.trim())
  if (!m) return null
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'))
  return m[1] ? -cents : cents
}

export const formatCents = (cents: number) => `${Math.trunc(cents / 100)}.${String(Math.abs(cents % 100)).padStart(2, '0')}`

// --- pricing ----------------------------------------------------------------------------------------------------

export interface CatalogProduct {
  productId: string
  productName: string
  unitPriceCents: number
  isActive: boolean
  isDiscontinued: boolean
}

export interface Line {
  productId: string
  quantity: number
}

export type PricingProblem = { productId: string; reason: 'unknown' | 'inactive' | 'discontinued' }

/** One line per product, quantities summed, in the order products first appear. */
export function mergeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>()
  for (const line of lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity)
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }))
}

export function priceLines(
  lines: readonly Line[],
  catalog: ReadonlyMap<string, CatalogProduct>,
): { ok: true; items: OrderItem[]; totalCents: number } | { ok: false; problems: PricingProblem[] } {
  const problems: PricingProblem[] = []
  const items: OrderItem[] = []
  for (const line of lines) {
    const product = catalog.get(line.productId)
    if (!product) problems.push({ productId: line.productId, reason: 'unknown' })
    else if (product.isDiscontinued) problems.push({ productId: line.productId, reason: 'discontinued' })
    else if (!product.isActive) problems.push({ productId: line.productId, reason: 'inactive' })
    else {
      items.push({
        productId: product.productId,
        productName: product.productName,
        quantity: line.quantity,
        unitPriceCents: product.unitPriceCents,
        totalCents: product.unitPriceCents * line.quantity,
      })
    }
  }
  if (problems.length) return { ok: false, problems }
  return { ok: true, items, totalCents: items.reduce((sum, i) => sum + i.totalCents, 0) }
}

// --- a new order ------------------------------------------------------------------------------------------------

export interface NewOrder {
  customerId: string
  address: Address
  deliveryInstructions: string | null
  /** Absent for legacy clients, who send totalAmount instead. */
  items: Line[] | null
  totalCents: number | null
  paymentToken: string | null
}

export function openOrder(input: { id: string; customerId: string; address: Address; deliveryInstructions: string | null; paymentToken: string | null; items: OrderItem[]; totalCents: number }, now: Date): Order {
  return {
    id: input.id,
    customerId: input.customerId,
    status: 'PENDING',
    totalCents: input.totalCents,
    currency: CURRENCY,
    address: input.address,
    deliveryInstructions: input.deliveryInstructions,
    paymentToken: input.paymentToken,
    items: input.items,
    cancellationReason: null,
    cancelledBy: null,
    createdAt: now,
    updatedAt: now,
    version: 1,
  }
}

// --- validation -------------------------------------------------------------------------------------------------
// The rules of the original API (as-built §2.2), written once: the HTTP schema (OpenAPI) is generated from them
// and validateNewOrder checks them, so every field gets a message that says what is expected.

export interface TextRule {
  required: boolean
  minLength?: number
  maxLength: number
  pattern?: string
  message: string
}

export const addressRules = {
  streetAddress: { required: true, minLength: 5, maxLength: 255, message: 'must be 5 to 255 characters' },
  city: { required: true, minLength: 2, maxLength: 100, pattern: "^[A-Za-z\\s\\-']{2,100}$", message: 'must be 2 to 100 letters, spaces, hyphens or apostrophes' },
  state: { required: false, maxLength: 100, pattern: "^[A-Za-z\\s\\-']{0,100}$", message: 'must be at most 100 letters, spaces, hyphens or apostrophes' },
  postalCode: { required: true, maxLength: 20, pattern: '^[A-Za-z0-9\\s-]{3,20}$', message: 'must be 3 to 20 letters, digits, spaces or hyphens' },
  country: { required: true, maxLength: 100, pattern: '^[A-Za-z\\s]{2,100}$', message: 'must be 2 to 100 letters or spaces' },
  phoneNumber: { required: false, maxLength: 50, pattern: '^[+]?[0-9\\s\\-\\(\\)]{7,50}$', message: 'must be 7 to 50 digits, spaces, hyphens or parentheses, optionally after a leading +' },
} as const satisfies Record<keyof Address, TextRule>

export const deliveryInstructionsRule = {
  required: false,
  maxLength: 500,
  pattern: '^[A-Za-z0-9\\s\\-.,!?()]{0,500}$',
  message: 'must be at most 500 letters, digits, spaces or the characters - . , ! ? ( )',
} as const satisfies TextRule

export const productIdRule = { required: true, minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]{1,100}$', message: 'must be 1 to 100 letters, digits or the characters _ . : -' } as const satisfies TextRule
export const paymentTokenRule = { required: false, minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]{1,200}$', message: 'must be 1 to 200 printable characters without spaces' } as const satisfies TextRule
export const paymentTypeRule = { required: false, minLength: 1, maxLength: 50, pattern: '^[A-Za-z_-]{1,50}$', message: 'must be 1 to 50 letters, underscores or hyphens' } as const satisfies TextRule

export const MAX_LINES = 50
export const MAX_QUANTITY = 1000
export const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const uuid = new RegExp(UUID)

export interface FieldError {
  field: string
  message: string
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks one text field; returns the value (null when optional and absent or empty). */
function text(errors: FieldError[], field: string, value: unknown, rule: TextRule): string | null {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    if (rule.required) errors.push({ field, message: 'is required' })
    return null
  }
  if (typeof value !== 'string') {
    errors.push({ field, message: `must be a string; ${rule.message}` })
    return null
  }
  const ok =
    value.length >= (rule.minLength ?? 0) && value.length <= rule.maxLength && (rule.pattern === undefined || new RegExp(rule.pattern).test(value))
  if (!ok) errors.push({ field, message: rule.message })
  return value
}

/** Validates a create-order body (any JSON value): every problem at once, each with its field. */
export function validateNewOrder(body: unknown): { ok: true; value: NewOrder } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = []
  if (!isObject(body)) return { ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] }

  let customerId = ''
  if (body.customerId === undefined || body.customerId === null || body.customerId === '') errors.push({ field: 'customerId', message: 'is required' })
  else if (typeof body.customerId !== 'string' || !uuid.test(body.customerId)) errors.push({ field: 'customerId', message: 'must be a UUID' })
  else customerId = body.customerId.toLowerCase()

  const address: Record<string, string | null> = {}
  if (body.address === undefined || body.address === null) errors.push({ field: 'address', message: 'is required' })
  else if (!isObject(body.address)) errors.push({ field: 'address', message: 'must be an object' })
  else {
    for (const [name, rule] of Object.entries(addressRules)) address[name] = text(errors, `address.${name}`, body.address[name], rule)
  }

  const deliveryInstructions = text(errors, 'deliveryInstructions', body.deliveryInstructions, deliveryInstructionsRule)

  let items: Line[] | null = null
  if (body.items !== undefined && body.items !== null) {
    if (!Array.isArray(body.items)) errors.push({ field: 'items', message: `must be an array of 1 to ${MAX_LINES} lines` })
    else if (body.items.length < 1 || body.items.length > MAX_LINES) errors.push({ field: 'items', message: `must have 1 to ${MAX_LINES} lines (has ${body.items.length})` })
    else {
      const lines: Line[] = []
      body.items.forEach((item: unknown, i) => {
        if (!isObject(item)) return errors.push({ field: `items[${i}]`, message: 'must be an object with productId and quantity' })
        const productId = text(errors, `items[${i}].productId`, item.productId, productIdRule)
        const q = item.quantity
        if (q === undefined || q === null) errors.push({ field: `items[${i}].quantity`, message: 'is required' })
        else if (typeof q !== 'number' || !Number.isInteger(q) || q < 1 || q > MAX_QUANTITY) errors.push({ field: `items[${i}].quantity`, message: `must be a whole number from 1 to ${MAX_QUANTITY}` })
        else if (productId) lines.push({ productId, quantity: q })
      })
      if (lines.length === body.items.length) {
        items = mergeLines(lines)
        for (const line of items) {
          if (line.quantity > MAX_QUANTITY) errors.push({ field: 'items', message: `product ${line.productId} is ordered ${line.quantity} times in total; at most ${MAX_QUANTITY}` })
        }
      }
    }
  }

  let totalCents: number | null = null
  const total = body.totalAmount
  const totalRule = 'must be an amount from 0.01 to 999999.99 with at most two decimals'
  if (total === undefined || total === null) {
    if (items === null && !errors.some((e) => e.field.startsWith('items'))) errors.push({ field: 'totalAmount', message: 'is required when the order has no items' })
  } else if (typeof total !== 'number') errors.push({ field: 'totalAmount', message: totalRule })
  else {
    const cents = amountToCents(total)
    if (cents === null || cents < MIN_TOTAL_CENTS || cents > MAX_TOTAL_CENTS) errors.push({ field: 'totalAmount', message: totalRule })
    else totalCents = cents
  }

  let paymentToken: string | null = null
  if (body.paymentMethod !== undefined && body.paymentMethod !== null) {
    if (!isObject(body.paymentMethod)) errors.push({ field: 'paymentMethod', message: 'must be an object with token and/or type' })
    else {
      paymentToken = text(errors, 'paymentMethod.token', body.paymentMethod.token, paymentTokenRule)
      text(errors, 'paymentMethod.type', body.paymentMethod.type, paymentTypeRule)
    }
  }

  if (errors.length) return { ok: false, errors }
  return {
    ok: true,
    value: {
      customerId,
      address: address as unknown as Address,
      deliveryInstructions,
      items,
      totalCents,
      paymentToken,
    },
  }
}
