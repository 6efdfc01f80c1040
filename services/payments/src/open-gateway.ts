// The gateway PAYMENTS_GATEWAY names, with what it needs to run and to close. Every name of `paymentGateways`
// has its case here; the configuration refuses any other.
import type { Logger } from 'pino'
import { createDb } from '@trackops/runtime'
import type { PaymentGatewayName } from './config.ts'
import type { PaymentGateway } from './gateway.ts'
import { createSandboxGateway } from './sandbox-gateway.ts'

export interface OpenGateway {
  gateway: PaymentGateway
  close: () => Promise<void>
}

export function openGateway(name: PaymentGatewayName, deps: { databaseUrl: string; logger: Logger }): OpenGateway {
  switch (name) {
    case 'sandbox': {
      // The sandbox stands for an external processor: its own small pool, never the handler's transaction.
      const sandboxDb = createDb(deps.databaseUrl, { max: 4, applicationName: 'trackops-payments-gateway-sandbox', logger: deps.logger })
      return { gateway: createSandboxGateway(sandboxDb), close: () => sandboxDb.destroy() }
    }
    default: {
      const unknown: never = name
      throw new Error(`no payment gateway named ${String(unknown)}`)
    }
  }
}
