// The raw change events Debezium writes to the CDC topics (infra/connectors/trackops-*-cdc.json: JSON without
// schemas, numeric as decimal text, timestamps as ISO text). Facts about rows, not business events: the services
// read them through packages/messaging's createChangeConsumer. Only the columns of the row image are a contract;
// the connectors leave out the orders' address, phone and payment token.
import { Type, type TSchema } from 'typebox'
import { CdcTopics } from './topics.ts'

const Uuid = Type.String({ format: 'uuid' })
const IsoTime = Type.String({ format: 'date-time', description: 'ISO 8601 text (time.precision.mode=isostring).' })
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const CentsColumn = Type.Integer({ minimum: 0, description: 'bigint: integer minor units (cents), as in the events.', examples: [1999] })

const OrderRow = Type.Object({
  id: Uuid,
  customer_id: Uuid,
  status: Type.Enum(['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED']),
  total_cents: CentsColumn,
  currency: Type.String({ examples: ['USD'] }),
  city: Type.String({ examples: ['Springfield'] }),
  state: Nullable(Type.String({ examples: ['IL'] })),
  postal_code: Type.String({ examples: ['62701'] }),
  country: Type.String({ examples: ['US'] }),
  delivery_instructions: Nullable(Type.String()),
  created_at: IsoTime,
  updated_at: IsoTime,
  version: Type.Integer({ minimum: 1 }),
  cancellation_reason: Nullable(Type.String()),
  cancelled_by: Nullable(Type.String()),
})

const OrderItemRow = Type.Object({
  id: Uuid,
  order_id: Uuid,
  line_no: Type.Integer({ minimum: 1 }),
  product_id: Type.String({ examples: ['PROD-004'] }),
  product_name: Type.String({ examples: ['Wireless Mouse'] }),
  quantity: Type.Integer({ minimum: 1 }),
  unit_price_cents: CentsColumn,
  total_cents: CentsColumn,
})

const InventoryItemRow = Type.Object({
  id: Uuid,
  product_id: Type.String({ examples: ['PROD-004'] }),
  product_name: Type.String({ examples: ['Wireless Mouse'] }),
  description: Nullable(Type.String()),
  available_quantity: Type.Integer({ minimum: 0 }),
  reserved_quantity: Type.Integer({ minimum: 0 }),
  unit_price: Type.String({
    pattern: '^\\d+\\.\\d{2}$',
    description: 'numeric(10, 2) as decimal text in the currency (decimal.handling.mode=string), unlike the events\' integer cents: "19.99" is unitPriceCents 1999 in the events and unitPrice 19.99 in the REST APIs.',
    examples: ['19.99'],
  }),
  category: Nullable(Type.String({ examples: ['Electronics'] })),
  min_stock_level: Nullable(Type.Integer({ minimum: 0 })),
  max_stock_level: Nullable(Type.Integer({ minimum: 0 })),
  reorder_quantity: Nullable(Type.Integer({ minimum: 0 })),
  is_active: Type.Boolean(),
  is_discontinued: Type.Boolean(),
  created_at: IsoTime,
  updated_at: IsoTime,
  version: Type.Integer({ minimum: 0 }),
  sold_quantity: Type.Integer({ minimum: 0 }),
  on_hand_quantity: Type.Integer({ minimum: 0 }),
})

/** Debezium's envelope around a row image. */
const changeOf = (row: TSchema) =>
  Type.Object({
    before: Nullable(Type.Object({ id: Uuid }, { description: 'Null on create and update (the tables keep REPLICA IDENTITY DEFAULT); on delete, the row\'s key (other columns null).' })),
    after: Nullable(row),
    source: Type.Object(
      {
        ts_ms: Type.Integer({ description: 'Commit time of the source transaction (ms since the epoch).' }),
        lsn: Type.Integer(),
        db: Type.String(),
        schema: Type.String({ examples: ['public'] }),
        table: Type.String(),
      },
      { description: "Debezium's source block; other fields as Debezium writes them." },
    ),
    op: Type.Enum(['c', 'u', 'd', 'r'], { description: 'create, update, delete, read (snapshot).' }),
    ts_ms: Type.Integer(),
  })

/** One entry per CDC topic: the message name, its row image's table, and the schemas of key and value. */
export const rowChangeCatalog = {
  ORDER_ROW_CHANGED: { topic: CdcTopics.orders, table: 'orders', key: Type.Object({ id: Uuid }), value: changeOf(OrderRow) },
  ORDER_ITEM_ROW_CHANGED: { topic: CdcTopics.orderItems, table: 'order_items', key: Type.Object({ id: Uuid }), value: changeOf(OrderItemRow) },
  INVENTORY_ITEM_ROW_CHANGED: { topic: CdcTopics.inventoryItems, table: 'inventory_items', key: Type.Object({ id: Uuid }), value: changeOf(InventoryItemRow) },
} as const
export type RowChangeType = keyof typeof rowChangeCatalog
