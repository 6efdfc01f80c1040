import { Type, type StaticDecode } from 'typebox'
import { runtimeSettings } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings, retentionSettings } from '@trackops/messaging'

/** The inventory service's settings (loaded once in main.ts with loadConfig). */
export const inventoryConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  ...retentionSettings,
  INVENTORY_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8082 }),
  INVENTORY_DATABASE_URL: Type.String({ minLength: 1 }),
  INVENTORY_DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  /** How long an unconfirmed reservation holds its stock. */
  INVENTORY_RESERVATION_TTL_SECONDS: Type.Integer({ minimum: 1, default: 1800 }),
  /** How often the expiry sweeper looks for due reservations. */
  INVENTORY_SWEEP_INTERVAL_SECONDS: Type.Number({ exclusiveMinimum: 0, default: 15 }),
  /** Orders expired per sweep transaction round; a full round is followed by another at once. */
  INVENTORY_SWEEP_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  /** Item cache entries live this long plus up to the jitter: a backstop, the change stream keeps them current. */
  INVENTORY_CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  INVENTORY_CACHE_TTL_JITTER_SECONDS: Type.Integer({ minimum: 0, default: 30 }),
})
export type InventoryConfig = StaticDecode<typeof inventoryConfigSchema>
