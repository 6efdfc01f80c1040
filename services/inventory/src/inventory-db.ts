// The inventory database's tables as Kysely sees them (migrations/0001_inventory.sql, plus the messaging tables
// every service database carries), and `Db`, the handle every store function takes.
import type { ColumnType, Generated, Kysely } from 'kysely'
import type { MessagingTables } from '@trackops/messaging'
import type { AdjustmentReason, FailedItem, ReservationStatus } from './stock.ts'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export interface InventoryDb extends MessagingTables {
  inventory_items: {
    id: string
    product_id: string
    product_name: string
    description: string | null
    available_quantity: number
    reserved_quantity: Generated<number>
    unit_price: string
    category: string | null
    min_stock_level: number | null
    max_stock_level: number | null
    reorder_quantity: number | null
    is_active: Generated<boolean>
    is_discontinued: Generated<boolean>
    created_at: Timestamp
    updated_at: Timestamp
    version: Generated<number>
    sold_quantity: Generated<number>
    on_hand_quantity: number
  }
  order_reservations: {
    order_id: string
    saga_id: string | null
    source: 'saga' | 'operator'
    requested_by: string | null
    correlation_id: string
    outcome: 'RESERVED' | 'FAILED'
    failed_items: ColumnType<FailedItem[], string, string>
    expires_at: Date | null
    created_at: Timestamp
    updated_at: Timestamp
  }
  inventory_reservations: {
    id: string
    order_id: string
    product_id: string
    product_name: string
    unit_price_cents: number
    quantity: number
    status: ReservationStatus
    reserved_at: Date
    expires_at: Date
    released_at: Date | null
    committed_at: Date | null
    created_at: Timestamp
    updated_at: Timestamp
    version: Generated<number>
  }
  inventory_adjustments: {
    id: string
    item_id: string
    product_id: string
    quantity: number
    reason: AdjustmentReason | 'INITIAL'
    note: string | null
    actor: string
    available_before: number
    available_after: number
    created_at: Timestamp
  }
}

export type Db = Kysely<InventoryDb>
