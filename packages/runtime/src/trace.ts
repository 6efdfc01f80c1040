// Trace context across HTTP and Kafka. With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported
// over OTLP/HTTP, and OpenTelemetry's instrumentations add the HTTP server span, Fastify's request, hook and
// handler spans, and a span per SQL statement (pg) and Redis command (ioredis) inside a trace. Without it
// nothing is recorded and nothing is patched, but the W3C trace id still travels: a non-recording span with
// the caller's trace id and a fresh span id is made current, so every outbox row carries a traceparent of the
// same trace and one order's story can be followed across services at no cost.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { context, propagation, trace, SpanKind, TraceFlags, type Context, type Span } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { getRPCMetadata, W3CTraceContextPropagator } from '@opentelemetry/core'
import { NodeTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-node'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'

let recording = false
let provider: NodeTracerProvider | undefined

export function initTracing(service: string, endpoint?: string) {
  if (provider || recording) return
  if (endpoint) {
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': `trackops-${service}` }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }))],
    })
    provider.register()
    instrument(provider)
    recording = true
  } else {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  }
}

// The instrumentations patch modules when they are required (require-in-the-middle), or imported through
// import-in-the-middle's loader hook. Neither sees this process's modules: the services are ES modules whose
// static imports (pg through Kysely's pool, ioredis, Fastify and node:http) are all loaded before main.ts runs
// initTracing, and no loader hook is registered. So once the instrumentations are enabled each module is
// required here once more: require-in-the-middle patches a module the first time it sees it required, also
// when it is already loaded, and every patch is of a prototype (pg's Client.query, pg-pool's connect, ioredis'
// sendCommand, http.Server's emit) that the ESM importers share with this require (an ES module importing a
// CommonJS package gets the same cached module). Fastify's instrumentation patches nothing: it subscribes to
// Fastify's `fastify.initialization` diagnostics channel and registers itself on every instance created later.
// Loaded with require, and only here, so that without an endpoint none of it is even loaded.
function instrument(provider: NodeTracerProvider) {
  const require = createRequire(import.meta.url)
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation')
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http')
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg')
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis')
  const { FastifyOtelInstrumentation } = require('@fastify/otel') as typeof import('@fastify/otel')
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Outside a trace (health probes, sweepers, pollers) statements, commands and outgoing calls make no spans.
      new HttpInstrumentation({ requireParentforOutgoingSpans: true }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  })
  for (const module of ['node:http', 'pg', 'ioredis']) require(module)
  createRequire(require.resolve('pg'))('pg-pool') // the pool pg itself uses
}

export async function shutdownTracing() {
  await provider?.shutdown()
}

export interface OpenSpan {
  /** The context with this span current: run work inside it with context.with (or withSpan). */
  ctx: Context
  span: Span
  end(error?: unknown, attributes?: Record<string, string | number>): void
}

// Ids of non-recording spans come from a pre-filled random buffer: one getrandom call per 4 KiB instead of two per
// request on the hot read path.
let randomPool = Buffer.alloc(0)
let randomAt = 0
function randomHex(bytes: number): string {
  if (randomAt + bytes > randomPool.length) {
    randomPool = randomBytes(4096)
    randomAt = 0
  }
  randomAt += bytes
  return randomPool.toString('hex', randomAt - bytes, randomAt)
}

/** Starts a span as a child of `parent`; recording only when an exporter is configured. */
export function startSpan(name: string, kind: 'server' | 'consumer' | 'internal', parent: Context): OpenSpan {
  let span: Span
  if (recording) {
    const spanKind = kind === 'server' ? SpanKind.SERVER : kind === 'consumer' ? SpanKind.CONSUMER : SpanKind.INTERNAL
    span = trace.getTracer('trackops').startSpan(name, { kind: spanKind }, parent)
  } else {
    const parentSpan = trace.getSpanContext(parent)
    span = trace.wrapSpanContext({
      traceId: parentSpan && trace.isSpanContextValid(parentSpan) ? parentSpan.traceId : randomHex(16),
      spanId: randomHex(8),
      traceFlags: parentSpan?.traceFlags ?? TraceFlags.NONE,
    })
  }
  return {
    ctx: trace.setSpan(parent, span),
    span,
    end(error, attributes) {
      if (!recording) return
      if (attributes) span.setAttributes(attributes)
      if (error) {
        span.recordException(error as Error)
        span.setStatus({ code: 2 })
      }
      span.end()
    },
  }
}

/**
 * The span of an HTTP request. With the HTTP instrumentation on, that is its server span (it read the caller's
 * traceparent and ends the span when the response is sent), so `end` leaves it alone and no second server span
 * is made; otherwise (tracing off, or a request injected without a socket) a span of our own, as startSpan.
 */
export function serverSpan(name: string, headers: Record<string, string>): OpenSpan {
  const instrumented = recording ? getRPCMetadata(context.active())?.span : undefined
  if (!instrumented) return startSpan(name, 'server', contextFromHeaders(headers))
  return { ctx: context.active(), span: instrumented, end() {} }
}

/** Runs fn inside a child span of `parent` that is current for everything fn awaits. */
export async function withSpan<T>(name: string, kind: 'server' | 'consumer' | 'internal', parent: Context, fn: () => Promise<T>): Promise<T> {
  const open = startSpan(name, kind, parent)
  try {
    const result = await context.with(open.ctx, fn)
    open.end()
    return result
  } catch (error) {
    open.end(error)
    throw error
  }
}

export const currentTraceId = (): string | undefined => trace.getSpanContext(context.active())?.traceId

/** The W3C traceparent of the active span, or a fresh unsampled one so every record carries a valid header. */
export function currentTraceparent(): string {
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  if (carrier.traceparent) return carrier.traceparent
  const span = trace.getActiveSpan()?.spanContext()
  if (span && trace.isSpanContextValid(span)) return `00-${span.traceId}-${span.spanId}-0${span.traceFlags}`
  return `00-${randomHex(16)}-${randomHex(8)}-00`
}

/** The OpenTelemetry context carried by a header map: an HTTP request's or a Kafka record's (W3C traceparent). */
export function contextFromHeaders(headers: Record<string, string>): Context {
  return propagation.extract(context.active(), headers)
}
