import pino from 'pino'

/** JSON logs; secrets and personal data are redacted wherever they could appear. */
export function createLogger(service: string, level = 'info') {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'token', 'password', 'secret',
        '*.streetAddress', '*.phoneNumber', '*.street_address', '*.phone_number', 'address', '*.address',
        'config.JWT_SECRET', '*.JWT_SECRET', 'paymentToken', '*.paymentToken', '*.payment_token', '*.data.paymentToken',
      ],
      censor: '[redacted]',
    },
  })
}

/** `12 Main Street` → `12 M*** S*****`: enough to recognise, not enough to use. */
export function maskText(value: string | null | undefined): string | null {
  if (!value) return value ?? null
  return value.replace(/([A-Za-z])([A-Za-z]*)/g, (_, first: string, rest: string) => first + '*'.repeat(rest.length)).replace(/\d(?=\d{2})/g, '*')
}
