// The AsyncAPI document: valid for the AsyncAPI parser, its topics as infra/topics.txt creates them, its examples
// accepted by the schemas that validate messages (and equal to what newMessage builds), and its consumer groups
// the ones the services run.
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Parser } from '@asyncapi/parser'
import { Compile } from 'typebox/compile'
import { newMessage } from '@trackops/messaging'
import { buildAsyncApi, consumerGroups } from '../src/asyncapi.ts'
import { messageTypes, validateMessage } from '../src/index.ts'
import { rowChangeCatalog, type RowChangeType } from '../src/row-changes.ts'
import { Topics, dlqTopic } from '../src/topics.ts'

const root = new URL('../../../', import.meta.url)
const doc = buildAsyncApi('0.0.0-test') as any

/** infra/topics.txt: "<name> <partitions> [config=value ...]" per line, the integration tests' topics left out. */
const topicsTxt = readFileSync(new URL('infra/topics.txt', root), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter((line) => line && !line.startsWith('trackops.test.'))
  .map((line) => {
    const [name, partitions, ...configs] = line.split(/\s+/)
    return { name: name!, partitions: Number(partitions), config: Object.fromEntries(configs.map((c) => c.split('=')).map(([k, v]) => [k, Number(v)])) }
  })

describe('the AsyncAPI document', () => {
  it('when the AsyncAPI parser reads it, then it reports no error', async () => {
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc))
    const severities = ['error', 'warning', 'information', 'hint']
    const report = diagnostics.map((d) => `${severities[d.severity]} ${d.code} at /${d.path.join('/')}: ${d.message}`)
    if (report.length) console.info(`AsyncAPI parser:\n${report.join('\n')}`)
    expect(report.filter((line) => line.startsWith('error'))).toEqual([])
    expect(document?.version()).toBe('3.0.0')
  })

  it('when compared with infra/topics.txt, then every topic is a channel with its partitions and retention, and no other', () => {
    expect(Object.values(doc.channels).map((c: any) => c.address).sort()).toEqual(topicsTxt.map((t) => t.name).sort())
    for (const topic of topicsTxt) {
      expect(doc.channels[topic.name].bindings.kafka, topic.name).toEqual({ topic: topic.name, partitions: topic.partitions, topicConfiguration: topic.config, bindingVersion: '0.5.0' })
    }
  })

  it('when a business message is shown, then its example passes validation and is what newMessage builds from its data', () => {
    for (const type of messageTypes) {
      const [example] = doc.components.messages[type].examples
      const checked = validateMessage(example.payload)
      expect(checked.ok ? [] : checked.problems, type).toEqual([])
      const { id, occurredAt, correlationId, causationId, data } = example.payload
      expect(example.payload, type).toEqual(newMessage(type, data, { correlationId, causationId }, new Date(occurredAt), id))
      expect(doc.components.messages[type].bindings.kafka.key.examples, type).toEqual([example.payload.aggregateId])
    }
  })

  it('when a CDC message or a dead letter is shown, then its example passes its schema', () => {
    for (const name of Object.keys(rowChangeCatalog) as RowChangeType[]) {
      const check = Compile(rowChangeCatalog[name].value)
      const value = doc.components.messages[name].examples[0].payload
      expect([...check.Errors(value)].map((e) => `${e.instancePath} ${e.message}`), name).toEqual([])
      expect(value.after.id).toMatch(/^[0-9a-f-]{36}$/)
    }
    const deadLetter = doc.components.messages.DEAD_LETTER.examples[0]
    expect(validateMessage(deadLetter.payload).ok).toBe(true)
    expect(Object.keys(deadLetter.headers)).toEqual(expect.arrayContaining(Object.keys(doc.components.messages.DEAD_LETTER.headers.properties)))
  })

  it('when operations are listed, then each topic has its one sender, and receivers as the consumer groups read it', () => {
    const ops = Object.entries(doc.operations) as [string, any][]
    const byChannel = (action: string, address: string) => ops.filter(([, op]) => op.action === action && op.channel.$ref === `#/channels/${address}`).map(([id]) => id)
    expect(byChannel('send', Topics.inventoryCommands)).toEqual(['orders.send.inventory.commands'])
    expect(byChannel('send', Topics.inventoryEvents)).toEqual(['inventory.send.inventory.events'])
    expect(byChannel('send', Topics.paymentEvents)).toEqual(['payments.send.payments.events'])
    expect(byChannel('receive', Topics.inventoryEvents)).toEqual(['orders-saga.receive.inventory.events'])
    expect(byChannel('receive', 'trackops_inventory.public.inventory_items').sort()).toEqual(['inventory-cache.receive.trackops_inventory.public.inventory_items', 'orders-catalog.receive.trackops_inventory.public.inventory_items'])
    expect(byChannel('send', dlqTopic(Topics.paymentCommands))).toEqual(['payments-commands.send.payments.commands.dlq'])
    expect(byChannel('send', 'trackops_orders.public.order_items')).toEqual(['debezium.send.trackops_orders.public.order_items'])
    for (const { address } of Object.values(doc.channels) as any[]) expect(byChannel('send', address), address).toHaveLength(1)
    for (const [id, op] of ops) {
      const channel = op.channel.$ref.slice('#/channels/'.length)
      for (const m of op.messages) expect(m.$ref.startsWith(`#/channels/${channel}/messages/`), id).toBe(true)
      if (op.action === 'receive') expect(op.bindings.kafka.groupId.enum, id).toHaveLength(1)
    }
  })

  it("when the consumer groups are listed, then each is named in its service's source", () => {
    for (const { service, group } of consumerGroups) {
      const dir = new URL(`services/${service}/src/`, root)
      const source = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(new URL(f, dir), 'utf8')).join('\n')
      expect(source, `${service}: ${group}`).toContain(`'${group}'`)
    }
  })

  it('when a message carries money, then the schema says it is cents and how REST shows it', () => {
    const cents = JSON.stringify(doc.components.messages).match(/"[a-zA-Z]*Cents":\{[^}]*\}/g) ?? []
    expect(cents.length).toBeGreaterThan(0)
    for (const field of cents) expect(field).toMatch(/minor units \(cents\).*decimal number \(cents \/ 100\)/)
    expect(doc.info.description).toContain('decimal numbers in the currency')
    expect(doc.components.messages.INVENTORY_ITEM_ROW_CHANGED.payload.properties.after.anyOf[0].properties.unit_price.description).toContain('decimal text')
  })
})
