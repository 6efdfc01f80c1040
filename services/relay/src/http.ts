// The relay's operations API: outbox rows of every service database (/api/events), dead letters and parked
// records (/api/dlq), and the AsyncAPI document (/asyncapi.json, readable at /asyncapi). Reads are for
// operators and admins; replaying and discarding dead letters is for admins and is written to the audit log.
import { Type } from 'typebox'
import type { Logger } from 'pino'
import { buildAsyncApi, isMessageType } from '@trackops/contracts'
import type { KafkaProducer } from '@trackops/messaging'
import { type AppBase, appBaseOf, AppError, createApp, problems } from '@trackops/http'
import { renderAsyncApiPage } from './asyncapi-page.ts'
import { dlqStats, dlqStatuses, findDeadLetter, listDeadLetters, requestReplays, resolveDeadLetter } from './dlq-store.ts'
import { findEvent, listOfAggregate, listOfType, listUnpublished, publishAll, publishRemaining, publishUntil } from './events-store.ts'
import { publishingReport } from './publishing.ts'
import { selectSources, sourceNames, type Source } from './sources.ts'
import packageJson from '../package.json' with { type: 'json' }

/** What createApp needs (verify is required), plus the relay's own. */
export interface RelayAppDeps extends AppBase {
  sources: Source[]
  strategy: 'debezium' | 'outbox'
  /** Publishing on demand under the outbox strategy, and reconciling a source under either. */
  producer: KafkaProducer | null
  /** Kafka Connect, asked for the outbox connectors' state under the debezium strategy (default: KAFKA_CONNECT_URL's default). */
  connectUrl?: string
  /** OUTBOX_RETENTION_SECONDS: how long rows stay in the outbox tables before pruning (default: its default, 600). */
  retentionSeconds?: number
  /** Stand-in for Kafka Connect's HTTP API in tests. */
  fetch?: typeof fetch
  batchSize?: number
}

const readers = ['operator', 'admin'] as ('operator' | 'admin')[]
const admins = ['admin'] as 'admin'[]
const MAX_WINDOW = 10_000
const AGGREGATE_LIMIT = 500

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const SourceName = Type.Enum([...sourceNames], { description: 'Only this service database.' })
const Paging = {
  page: Type.Integer({ minimum: 0, default: 0 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
}
const Uuid = Type.String({ format: 'uuid' })
const Event = Type.Object({
  id: Type.String(),
  source: Type.String(),
  seq: Type.Integer(),
  topic: Type.String(),
  aggregateType: Type.String(),
  aggregateId: Type.String(),
  eventType: Type.String(),
  payload: Type.Unknown(),
  correlationId: Type.String(),
  traceparent: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  published: Type.Boolean({ description: 'Marked by the relay\'s polling publisher (outbox strategy). Under debezium nothing marks rows: always false, whether or not Debezium published it (see /api/events/stats).' }),
  publishedAt: Nullable(Type.String({ format: 'date-time' })),
  attempts: Type.Integer({ description: 'Publishing attempts of the polling publisher (outbox strategy).' }),
  lastError: Nullable(Type.String()),
})
const Letter = Type.Object({
  id: Type.String(),
  source: Type.String(),
  consumerGroup: Type.String(),
  topic: Type.String(),
  partition: Type.Integer(),
  offset: Type.String(),
  key: Type.String(),
  messageId: Nullable(Type.String()),
  messageType: Nullable(Type.String()),
  error: Type.String(),
  attempts: Type.Integer(),
  status: Type.String(),
  parkedCount: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  resolvedBy: Nullable(Type.String()),
})
const LetterDetail = Type.Object({
  ...Letter.properties,
  value: Type.Unknown(),
  headers: Type.Record(Type.String(), Type.String()),
  parked: Type.Array(Type.Object({
    seq: Type.Integer(), partition: Type.Integer(), offset: Type.String(), messageId: Nullable(Type.String()),
    messageType: Nullable(Type.String()), parkedAt: Type.String({ format: 'date-time' }),
  })),
})
const ConnectorState = Type.Object({
  name: Type.String(),
  state: Type.String({ description: 'Kafka Connect\'s connector state (RUNNING, PAUSED, FAILED, …), NOT_REGISTERED, or UNREACHABLE when Kafka Connect does not answer.' }),
  tasks: Type.Array(Type.Object({ id: Type.Integer(), state: Type.String(), trace: Nullable(Type.String({ description: 'First line of a failed task\'s trace.' })) })),
  error: Type.Optional(Type.String()),
})
const SlotPosition = Type.Object({
  name: Type.String(),
  active: Type.Boolean({ description: 'A connector is attached to the slot.' }),
  confirmedFlushLsn: Nullable(Type.String({ description: 'The WAL position up to which the connector confirmed it has captured changes.' })),
  currentWalLsn: Type.String({ description: 'The server\'s current WAL write position.' }),
  lagBytes: Nullable(Type.Integer({ description: 'currentWalLsn − confirmedFlushLsn in bytes: WAL the connector has not confirmed yet. Small and moving while it runs; growing while it is stopped.' })),
})
const StatsJson = Type.Union([
  Type.Object({
    strategy: Type.Literal('debezium'),
    publisher: Type.Literal('debezium', { description: 'Debezium publishes the outbox rows, from the WAL.' }),
    explanation: Type.String({ description: 'What the numbers mean, in words.' }),
    retentionSeconds: Type.Integer(),
    connectUrl: Type.String(),
    sources: Type.Array(Type.Object({
      source: Type.String(),
      connector: ConnectorState,
      slot: Nullable(SlotPosition),
      retained: Nullable(Type.Object({
        rows: Type.Integer({ description: 'Outbox rows kept only until pruning: already in the WAL, not a backlog.' }),
        oldestAgeSeconds: Nullable(Type.Number({ description: 'Age of the oldest; about retentionSeconds at most while pruning runs.' })),
      })),
      error: Type.Optional(Type.String({ description: 'Why the slot or the retained rows could not be read.' })),
    })),
    timestamp: Type.String({ format: 'date-time' }),
  }, { title: 'Debezium capture' }),
  Type.Object({
    strategy: Type.Literal('outbox'),
    publisher: Type.Literal('relay', { description: 'The relay\'s polling publisher sends the outbox rows and marks them published.' }),
    explanation: Type.String({ description: 'What the numbers mean, in words.' }),
    retentionSeconds: Type.Integer(),
    sources: Type.Array(Type.Object({
      source: Type.String(),
      unpublished: Type.Optional(Type.Integer({ description: 'Rows waiting to be published: the backlog.' })),
      published: Type.Optional(Type.Integer({ description: 'Published rows kept until pruning.' })),
      failed: Type.Optional(Type.Integer({ description: 'Unpublished rows Kafka refused at least once.' })),
      oldestUnpublishedAgeSeconds: Type.Optional(Nullable(Type.Number({ description: 'How long the oldest unpublished row has waited.' }))),
      error: Type.Optional(Type.String()),
    })),
    timestamp: Type.String({ format: 'date-time' }),
  }, { title: 'Outbox backlog' }),
])
const pageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ content: Type.Array(item), page: Type.Integer(), size: Type.Integer(), totalElements: Type.Integer(), totalPages: Type.Integer() })

function window(page: number, size: number) {
  if ((page + 1) * size > MAX_WINDOW) {
    throw new AppError('request.bad-request', `page × size may reach at most ${MAX_WINDOW} rows; narrow the filter instead.`)
  }
}
/** Staff routes only run behind a verified token; a missing identity is refused, never recorded as someone. */
const actorOf = (req: { principal?: { sub: string } | undefined }) => {
  if (!req.principal) throw new AppError('auth.unauthorized', 'A verified identity is required.')
  return req.principal.sub
}
const paged = <T>(content: T[], total: number, page: number, size: number) => ({ content, page, size, totalElements: total, totalPages: Math.ceil(total / size) })

export async function buildApp(deps: RelayAppDeps) {
  const app = await createApp({
    name: 'relay',
    version: packageJson.version,
    title: 'TrackOps event relay',
    tags: {
      asyncapi: 'The AsyncAPI document of every topic and message.',
      events: 'Outbox rows of every service database, and publishing them (outbox strategy).',
      dlq: 'Dead letters and the records parked behind them: reading, replaying, discarding.',
    },
    description: 'Outbox publishing (outbox strategy), outbox and dead-letter operations over every service database, DLQ replay, and the AsyncAPI document of all events.',
    ...appBaseOf(deps),
  })
  const { sources, strategy } = deps
  const batchSize = deps.batchSize ?? 500
  const connectUrl = deps.connectUrl ?? 'http://127.0.0.1:8083'
  const retentionSeconds = deps.retentionSeconds ?? 600
  const asyncApi = buildAsyncApi(packageJson.version)
  const asyncApiPage = renderAsyncApiPage(asyncApi)

  function publisher(): KafkaProducer {
    if (strategy === 'debezium') {
      throw new AppError('events.conflict', 'Publishing is done by Debezium (EVENT_PUBLISHING_STRATEGY=debezium): the relay does not publish outbox rows.')
    }
    if (!deps.producer) throw new AppError('events.unavailable', 'The relay has no Kafka producer.')
    return deps.producer
  }

  // The AsyncAPI document, public: as JSON and as a readable page.
  app.get('/asyncapi.json', { config: { auth: 'public' }, schema: { tags: ['asyncapi'], summary: 'The AsyncAPI 3.0 document of every TrackOps topic and message' } }, async () => asyncApi)
  app.get('/asyncapi', { config: { auth: 'public' }, schema: { tags: ['asyncapi'], summary: 'The AsyncAPI document as a readable page' } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(asyncApiPage),
  )

  // Outbox rows of every source database (/api/events), and publishing on demand under the outbox strategy.
  app.get('/api/events/stats', {
    config: { auth: readers },
    schema: {
      tags: ['events'],
      summary: 'Publishing progress per source database, for the strategy in force',
      description: 'Under debezium: each outbox connector\'s state, its replication slot\'s confirmed position against the current WAL (lag in bytes) ' +
        'and the rows retained for pruning. Under outbox: the backlog of unpublished rows. `strategy` says which, `explanation` what the numbers mean.',
      response: { 200: StatsJson },
    },
  }, async () => publishingReport({ sources, strategy, connectUrl, retentionSeconds, ...(deps.fetch ? { fetch: deps.fetch } : {}) }))

  app.get('/api/events/unprocessed', {
    config: { auth: readers },
    schema: { tags: ['events'], summary: 'Unpublished outbox rows, oldest first (outbox strategy; under debezium every retained row, since nothing marks them)', querystring: Type.Object({ ...Paging, source: Type.Optional(SourceName) }), response: { 200: pageOf(Event) } },
  }, async (req) => {
    const { page, size, source } = req.query
    window(page, size)
    const { content, total } = await listUnpublished(selectSources(sources, source), page, size)
    return paged(content, total, page, size)
  })

  app.get('/api/events/aggregate/:aggregateId', {
    config: { auth: readers },
    schema: {
      tags: ['events'], summary: `Retained outbox rows of one aggregate, in write order (at most ${AGGREGATE_LIMIT})`,
      params: Type.Object({ aggregateId: Type.String({ minLength: 1, maxLength: 200 }) }), response: { 200: Type.Array(Event) },
    },
  }, async (req) => listOfAggregate(sources, req.params.aggregateId, AGGREGATE_LIMIT))

  app.get('/api/events/type/:eventType', {
    config: { auth: readers },
    schema: {
      tags: ['events'], summary: 'Retained outbox rows of one message type, oldest first',
      params: Type.Object({ eventType: Type.String({ minLength: 1, maxLength: 100 }) }),
      querystring: Type.Object({ ...Paging, source: Type.Optional(SourceName) }), response: { 200: pageOf(Event) },
    },
  }, async (req) => {
    const { eventType } = req.params
    if (!isMessageType(eventType)) {
      throw new AppError('events.validation', 'Unknown event type; see /asyncapi for the message types.', { errors: [{ field: 'params.eventType', message: 'is not a known message type' }] })
    }
    const { page, size, source } = req.query
    window(page, size)
    const { content, total } = await listOfType(selectSources(sources, source), eventType, page, size)
    return paged(content, total, page, size)
  })

  app.get('/api/events/:id', {
    config: { auth: readers },
    schema: { tags: ['events'], summary: 'One outbox row by event id', params: Type.Object({ id: Uuid }), response: { 200: Event, ...problems(404) } },
  }, async (req) => {
    const hit = await findEvent(sources, req.params.id)
    if (!hit) throw new AppError('events.not-found', `No outbox row with id ${req.params.id} (rows are pruned after the retention period).`)
    return hit.event
  })

  app.post('/api/events/:id/process', {
    config: { auth: readers },
    schema: { tags: ['events'], summary: 'Publish this row now (outbox strategy): runs publishing passes on its source until it is out', params: Type.Object({ id: Uuid }), response: problems(404, 409) },
  }, async (req) => {
    const hit = await findEvent(sources, req.params.id)
    if (!hit) throw new AppError('events.not-found', `No outbox row with id ${req.params.id}.`)
    const producer = publisher()
    if (hit.event.published) return { id: hit.event.id, source: hit.source.name, published: true, alreadyPublished: true, publishedAt: hit.event.publishedAt, publishedCount: 0 }
    let publishedCount: number
    try {
      publishedCount = await publishUntil(hit.source, producer, hit.event.id, batchSize)
    } catch (error) {
      throw new AppError('events.unavailable', `Kafka did not acknowledge the batch: ${(error as Error).message}`, { cause: error })
    }
    const after = await findEvent([hit.source], hit.event.id)
    const published = after?.event.published ?? true // pruned meanwhile: it had been published
    req.log.info({ eventId: hit.event.id, source: hit.source.name, published, publishedCount, actor: req.principal?.sub }, 'outbox row published on request')
    return {
      id: hit.event.id, source: hit.source.name, published, alreadyPublished: false, publishedAt: after?.event.publishedAt ?? null, publishedCount,
      ...(published ? {} : { detail: 'Another relay pass holds this row\'s bucket; it publishes the row in order.' }),
    }
  })

  app.post('/api/events/process-all', {
    config: { auth: readers },
    schema: {
      tags: ['events'], summary: 'One publishing pass over every source (outbox strategy)',
      querystring: Type.Object({ batchSize: Type.Integer({ minimum: 1, maximum: 5_000, default: batchSize }) }),
      response: problems(409),
    },
  }, async (req) => {
    const producer = publisher()
    const results = await publishAll(sources, producer, req.query.batchSize)
    const bySource = results.map((r) => ('value' in r ? { source: r.source.name, published: r.value } : { source: r.source.name, published: 0, error: r.error }))
    req.log.info({ bySource, actor: req.principal?.sub }, 'publishing pass on request')
    return { strategy, batchSize: req.query.batchSize, published: bySource.reduce((n, s) => n + s.published, 0), sources: bySource, timestamp: new Date().toISOString() }
  })

  app.post('/api/events/reconcile', {
    config: { auth: admins },
    schema: {
      tags: ['events'],
      summary: "Publish every row of a source's outbox that nothing marked published (recovery of a lost replication slot)",
      description:
        'Under either strategy: publishes the rows not marked published, in order, pass after pass until none is left, and marks them. ' +
        'After a replication slot was lost (infra/stack.sh slots-recover) these are the rows its connector never read, and the ones it did read: ' +
        'consumers drop those by message id. Pruning keeps an outbox whole while a slot of its database is inactive or lost.',
      querystring: Type.Object({ source: Type.Enum([...sourceNames]), batchSize: Type.Integer({ minimum: 1, maximum: 5_000, default: batchSize }) }),
      response: problems(404),
    },
  }, async (req) => {
    if (!deps.producer) throw new AppError('events.unavailable', 'The relay has no Kafka producer.')
    const source = sources.find((s) => s.name === req.query.source)
    if (!source) throw new AppError('events.not-found', `This relay does not read the ${req.query.source} database.`)
    let result: { published: number; passes: number }
    try {
      result = await publishRemaining(source, deps.producer, req.query.batchSize)
    } catch (error) {
      throw new AppError('events.unavailable', `Kafka did not acknowledge a batch: ${(error as Error).message}; rows published so far are marked, run it again`, { cause: error })
    }
    const { published, passes } = result
    req.log.info({ source: source.name, published, passes, actor: req.principal?.sub }, 'outbox reconciled on request')
    return { source: source.name, strategy, published, passes, timestamp: new Date().toISOString() }
  })

  // Dead letters and the records parked behind them (/api/dlq); replaying and discarding are audited.
  const Filter = {
    topic: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    source: Type.Optional(SourceName),
  }

  app.get('/api/dlq', {
    config: { auth: readers },
    schema: {
      tags: ['dlq'], summary: 'Dead letters of every service database, newest first',
      querystring: Type.Object({ ...Filter, status: Type.Optional(Type.Enum([...dlqStatuses])), ...Paging }),
      response: { 200: pageOf(Letter) },
    },
  }, async (req) => {
    const { page, size, source, topic, group, key, status } = req.query
    window(page, size)
    const { content, total } = await listDeadLetters(selectSources(sources, source), { topic, group, key, status }, page, size)
    return paged(content, total, page, size)
  })

  app.get('/api/dlq/stats', {
    config: { auth: readers },
    schema: { tags: ['dlq'], summary: 'Dead letters and parked records per source, consumer group and topic' },
  }, async () => {
    const stats = await dlqStats(sources)
    return {
      groups: stats.flatMap((s) => ('value' in s ? s.value : [])),
      unavailable: stats.flatMap((s) => ('error' in s ? [{ source: s.source.name, error: s.error }] : [])),
      timestamp: new Date().toISOString(),
    }
  })

  app.get('/api/dlq/:id', {
    config: { auth: readers },
    schema: { tags: ['dlq'], summary: 'One dead letter with its record, headers and the records parked behind its key', params: Type.Object({ id: Uuid }), response: { 200: LetterDetail, ...problems(404) } },
  }, async (req) => {
    const letter = await findDeadLetter(sources, req.params.id)
    if (!letter) throw new AppError('dlq.not-found', `No dead letter with id ${req.params.id}.`)
    return letter
  })

  const resolve = (to: 'REPLAY_REQUESTED' | 'DISCARDED') => async (req: { params: { id: string }; principal?: { sub: string } | undefined; log: Logger }) => {
    const actor = actorOf(req)
    const result = await resolveDeadLetter(sources, req.params.id, to, actor)
    if (result.outcome === 'not-found') throw new AppError('dlq.not-found', `No dead letter with id ${req.params.id}.`)
    if (result.outcome === 'conflict') {
      throw new AppError('dlq.conflict', `Dead letter ${req.params.id} is ${result.status}; only a DEAD letter can be ${to === 'DISCARDED' ? 'discarded' : 'replayed'}.`)
    }
    const action = to === 'DISCARDED' ? 'dlq.discard' : 'dlq.replay'
    req.log.child({ audit: true, actor, action }).info({ deadLetterId: result.letter.id, source: result.letter.source, group: result.letter.consumerGroup, topic: result.letter.topic, key: result.letter.key }, `audit ${action}`)
    return result.letter
  }

  app.post('/api/dlq/:id/replay', {
    config: { auth: admins },
    schema: { tags: ['dlq'], summary: "Request a replay: DEAD → REPLAY_REQUESTED; the owning service's consumer re-applies it within about a second", params: Type.Object({ id: Uuid }), response: { 200: Letter, ...problems(404, 409) } },
  }, resolve('REPLAY_REQUESTED'))

  app.post('/api/dlq/:id/discard', {
    config: { auth: admins },
    schema: { tags: ['dlq'], summary: 'Discard: DEAD → DISCARDED; the records parked behind its key then drain in order', params: Type.Object({ id: Uuid }), response: { 200: Letter, ...problems(404, 409) } },
  }, resolve('DISCARDED'))

  app.post('/api/dlq/replay', {
    config: { auth: admins },
    schema: {
      tags: ['dlq'], summary: 'Request a replay of every DEAD letter matching the filter (topic, group and/or key required)',
      body: Type.Object(Filter, { additionalProperties: false }),
    },
  }, async (req) => {
    const { source, topic, group, key } = req.body
    if (!topic && !group && !key) {
      throw new AppError('dlq.validation', 'Give at least one of topic, group or key: replaying every dead letter at once is not offered.', { errors: [{ field: 'topic', message: 'topic, group or key is required' }] })
    }
    const actor = actorOf(req)
    const results = await requestReplays(selectSources(sources, source), { topic, group, key }, actor)
    const ids = results.flatMap((r) => r.ids)
    req.log.child({ audit: true, actor, action: 'dlq.replay-matching' }).info({ filter: { source, topic, group, key }, deadLetterIds: ids }, 'audit dlq.replay-matching')
    return { requested: ids.length, sources: results.map((r) => ({ source: r.source, requested: r.ids.length })), ids }
  })

  return app
}
