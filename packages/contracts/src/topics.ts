// Topic names are part of the public contract (DESIGN §2). infra/topics.txt creates them with these names.
export const Topics = {
  orderEvents: 'orders.events',
  inventoryCommands: 'inventory.commands',
  inventoryEvents: 'inventory.events',
  paymentCommands: 'payments.commands',
  paymentEvents: 'payments.events',
} as const
export type Topic = (typeof Topics)[keyof typeof Topics]

// Raw change-data-capture topics (Debezium envelopes, not business events).
export const CdcTopics = {
  orders: 'trackops_orders.public.orders',
  orderItems: 'trackops_orders.public.order_items',
  inventoryItems: 'trackops_inventory.public.inventory_items',
} as const

export const dlqTopic = (topic: string): string => `${topic}.dlq`
