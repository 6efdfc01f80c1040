// The create-order request. Its schema states every rule of a field once (as-built §2.2), with the message a client
// gets when the field breaks it: ajv checks it at the edge and /docs shows it. newOrderOf adds what a schema cannot
// say — rules across fields, lines of one product merged — and turns the request into the order's terms (cents).
import { Type, type Static } from 'typebox'
import type { FieldError } from '@trackops/http'
import { centsOfAmount } from '@trackops/contracts'
import type { Address, Line, NewOrder } from './order.ts'
import { mergeLines } from './pricing.ts'

export const MAX_LINES = 50
export const MAX_QUANTITY = 1000

interface TextRule {
  minLength?: number
  maxLength: number
  pattern?: string
  message: string
}

const text = (rule: TextRule) =>
  Type.String({ ...(rule.minLength !== undefined ? { minLength: rule.minLength } : {}), maxLength: rule.maxLength, ...(rule.pattern ? { pattern: rule.pattern } : {}), errorMessage: rule.message })

export const addressRules = {
  streetAddress: { minLength: 5, maxLength: 255, message: 'must be 5 to 255 characters' },
  city: { minLength: 2, maxLength: 100, pattern: "^[A-Za-z\\s\\-']{2,100}$", message: 'must be 2 to 100 letters, spaces, hyphens or apostrophes' },
  state: { maxLength: 100, pattern: "^[A-Za-z\\s\\-']{0,100}$", message: 'must be at most 100 letters, spaces, hyphens or apostrophes' },
  postalCode: { maxLength: 20, pattern: '^[A-Za-z0-9\\s-]{3,20}$', message: 'must be 3 to 20 letters, digits, spaces or hyphens' },
  country: { maxLength: 100, pattern: '^[A-Za-z\\s]{2,100}$', message: 'must be 2 to 100 letters or spaces' },
  phoneNumber: { maxLength: 50, pattern: '^[+]?[0-9\\s\\-\\(\\)]{7,50}$', message: 'must be 7 to 50 digits, spaces, hyphens or parentheses, optionally after a leading +' },
} as const satisfies Record<keyof Address, TextRule>
export const deliveryInstructionsRule = { maxLength: 500, pattern: '^[A-Za-z0-9\\s\\-.,!?()]{0,500}$', message: 'must be at most 500 letters, digits, spaces or the characters - . , ! ? ( )' } as const satisfies TextRule
export const productIdRule = { minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]{1,100}$', message: 'must be 1 to 100 letters, digits or the characters _ . : -' } as const satisfies TextRule
export const paymentTokenRule = { minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]{1,200}$', message: 'must be 1 to 200 printable characters without spaces' } as const satisfies TextRule
export const paymentTypeRule = { minLength: 1, maxLength: 50, pattern: '^[A-Za-z_-]{1,50}$', message: 'must be 1 to 50 letters, underscores or hyphens' } as const satisfies TextRule
export const TOTAL_RULE = 'must be an amount from 0.01 to 999999.99 with at most two decimals'

const ABSENT = 'A field that is null or blank (only spaces) counts as absent.'

export const CreateOrderBody = Type.Object(
  {
    customerId: Type.String({ format: 'uuid', errorMessage: 'must be a UUID' }),
    address: Type.Object(
      {
        streetAddress: text(addressRules.streetAddress),
        city: text(addressRules.city),
        state: Type.Optional(text(addressRules.state)),
        postalCode: text(addressRules.postalCode),
        country: text(addressRules.country),
        phoneNumber: Type.Optional(text(addressRules.phoneNumber)),
      },
      { additionalProperties: false, errorMessage: 'must be an object' },
    ),
    deliveryInstructions: Type.Optional(text(deliveryInstructionsRule)),
    items: Type.Optional(
      Type.Array(
        Type.Object(
          { productId: text(productIdRule), quantity: Type.Integer({ minimum: 1, maximum: MAX_QUANTITY, errorMessage: `must be a whole number from 1 to ${MAX_QUANTITY}` }) },
          { additionalProperties: false, errorMessage: 'must be an object with productId and quantity' },
        ),
        {
          minItems: 1,
          maxItems: MAX_LINES,
          errorMessage: `must be an array of 1 to ${MAX_LINES} lines`,
          description: 'Lines priced from the catalog; the same product twice is merged. Leave out only for legacy clients that send totalAmount.',
        },
      ),
    ),
    totalAmount: Type.Optional(
      Type.Number({ minimum: 0.01, maximum: 999999.99, multipleOf: 0.01, errorMessage: TOTAL_RULE, description: 'Required without items; with items it must equal their total at catalog prices.' }),
    ),
    paymentMethod: Type.Optional(
      Type.Object(
        { token: Type.Optional(text(paymentTokenRule)), type: Type.Optional(text(paymentTypeRule)) },
        { additionalProperties: false, errorMessage: 'must be an object with token and/or type' },
      ),
    ),
  },
  { additionalProperties: false, errorMessage: 'must be a JSON object', description: ABSENT },
)
export type CreateOrderRequest = Static<typeof CreateOrderBody>

/**
 * A null or blank field of the body is an absent one (the original API's @NotBlank): removed before the schema
 * checks the body, so a blank required field "is required" and a blank optional one is simply not there. Only as
 * deep as the body's fields go (items[0].productId): anything deeper is the schema's to refuse, and a hostile body
 * nested thousands of levels deep costs no recursion.
 */
export function dropAbsentFields(body: unknown, depth = 3): unknown {
  if (depth === 0 || body === null || typeof body !== 'object') return body
  if (Array.isArray(body)) return body.map((item) => dropAbsentFields(item, depth - 1))
  const kept: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    if (value === null || (typeof value === 'string' && value.trim() === '')) continue
    kept[key] = dropAbsentFields(value, depth - 1)
  }
  return kept
}

/** The rules across fields of a request the schema accepted; the order in its own terms when they hold. */
export function newOrderOf(request: CreateOrderRequest): { ok: true; value: NewOrder } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = []
  const items: Line[] | null = request.items ? mergeLines(request.items) : null
  for (const line of items ?? []) {
    if (line.quantity > MAX_QUANTITY) errors.push({ field: 'items', message: `product ${line.productId} is ordered ${line.quantity} times in total; at most ${MAX_QUANTITY}` })
  }
  let totalCents: number | null = null
  if (request.totalAmount !== undefined) {
    totalCents = centsOfAmount(request.totalAmount)
    if (totalCents === null) errors.push({ field: 'totalAmount', message: TOTAL_RULE })
  } else if (items === null) errors.push({ field: 'totalAmount', message: 'is required when the order has no items' })
  if (errors.length) return { ok: false, errors }
  const a = request.address
  return {
    ok: true,
    value: {
      customerId: request.customerId.toLowerCase(),
      address: { streetAddress: a.streetAddress, city: a.city, state: a.state ?? null, postalCode: a.postalCode, country: a.country, phoneNumber: a.phoneNumber ?? null },
      deliveryInstructions: request.deliveryInstructions ?? null,
      items,
      totalCents,
      paymentToken: request.paymentMethod?.token ?? null,
    },
  }
}
