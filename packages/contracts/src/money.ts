// Money is integer cents everywhere inside TrackOps — in the databases' arithmetic, in messages, in memory.
// Decimals exist only at the edges, converted here and nowhere else: JSON numbers of the HTTP APIs (amounts) and
// the decimal text of PostgreSQL's numeric columns, as the stores read them and Debezium sends them.

/** A JSON number with at most two decimals → cents; null when it has more precision than cents or is not finite. */
export function centsOfAmount(amount: number): number | null {
  if (!Number.isFinite(amount)) return null
  const cents = Math.round(amount * 100)
  return Math.abs(amount * 100 - cents) < 1e-6 ? cents : null
}

export const amountOfCents = (cents: number) => cents / 100

/** What the HTTP APIs' amount fields say of themselves (the AsyncAPI document says the converse of *Cents). */
export const amountDescription = 'A decimal in the currency, at most two places. Events and commands carry the same amount as integer cents (totalCents, unitPriceCents, amountCents = this × 100).'

/** Decimal text ("199.99", "5", "-0.5", "12.340") → cents without floating point; null when not a whole number of cents. */
export function centsOfDecimalText(text: string): number | null {
  const m = /^(-?)(\d+)(?:\.(\d{1,2})0*)?$/.exec(text.trim())
  if (!m) return null
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'))
  return m[1] ? -cents : cents
}

/** Cents → decimal text with two places ("1234.56", "-0.05"), for numeric columns and for messages to people. */
export const decimalTextOfCents = (cents: number) => `${cents < 0 ? '-' : ''}${Math.trunc(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`
