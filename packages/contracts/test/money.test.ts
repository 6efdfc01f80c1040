import { describe, expect, it } from 'vitest'
import { amountOfCents, centsOfAmount, centsOfDecimalText, decimalTextOfCents } from '../src/money.ts'

describe('money at the edges', () => {
  it('when an amount has at most two decimals, then it converts to exact cents and back', () => {
    expect(centsOfAmount(0.01)).toBe(1)
    expect(centsOfAmount(0.29)).toBe(29)
    expect(centsOfAmount(19.99)).toBe(1999)
    expect(centsOfAmount(0.1 + 0.2)).toBe(30)
    expect(centsOfAmount(999999.99)).toBe(99999999)
    expect(amountOfCents(1999)).toBe(19.99)
    expect(JSON.stringify(amountOfCents(30))).toBe('0.3')
  })
  it('when an amount has more precision than cents or is not finite, then it is refused', () => {
    expect(centsOfAmount(1.005)).toBeNull()
    expect(centsOfAmount(1.234)).toBeNull()
    expect(centsOfAmount(0.001)).toBeNull()
    expect(centsOfAmount(Number.NaN)).toBeNull()
    expect(centsOfAmount(Number.POSITIVE_INFINITY)).toBeNull()
  })
  it('when numeric text is read (a store row, a Debezium column), then cents are exact', () => {
    expect(centsOfDecimalText('199.99')).toBe(19999)
    expect(centsOfDecimalText('5')).toBe(500)
    expect(centsOfDecimalText('5.5')).toBe(550)
    expect(centsOfDecimalText('0.10')).toBe(10)
    expect(centsOfDecimalText('12.340')).toBe(1234)
    expect(centsOfDecimalText('-0.5')).toBe(-50)
    expect(centsOfDecimalText('1.999')).toBeNull()
    expect(centsOfDecimalText('abc')).toBeNull()
  })
  it('when cents are written as decimal text, then two places, with the sign of negative amounts', () => {
    expect(decimalTextOfCents(1)).toBe('0.01')
    expect(decimalTextOfCents(5)).toBe('0.05')
    expect(decimalTextOfCents(19999)).toBe('199.99')
    expect(decimalTextOfCents(123456)).toBe('1234.56')
    expect(decimalTextOfCents(-50)).toBe('-0.50')
  })
})
