import { Type } from 'typebox'
import { loadConfig, runtimeSettings } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings } from '@trackops/messaging'

const Url = (fallback: string) => Type.String({ default: fallback, pattern: '^https?://' })

export const consoleConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  CONSOLE_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  ORDERS_URL: Url('http://127.0.0.1:8081'),
  INVENTORY_URL: Url('http://127.0.0.1:8082'),
  RELAY_URL: Url('http://127.0.0.1:8084'),
  PAYMENTS_URL: Url('http://127.0.0.1:8085'),
  /** Where the production build lives (npm run console:build); relative to the working directory or absolute. */
  CONSOLE_DIST: Type.String({ default: 'console/dist' }),
})

export const loadConsoleConfig = (env: Record<string, string | undefined>) => loadConfig(consoleConfigSchema, env)
export type ConsoleConfig = ReturnType<typeof loadConsoleConfig>
