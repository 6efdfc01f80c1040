// Gauges whose values are read from a backend (PostgreSQL's statistics, Redis INFO) when Prometheus scrapes, not
// kept up to date in between. One reading serves every gauge of a set during a scrape; when the backend does not
// answer, the gauges keep the values last read.
import client from 'prom-client'
import type { Logger } from 'pino'

export interface ScrapedGauge<R> {
  name: string
  help: string
  labelNames?: string[]
  samples: (reading: R) => [Record<string, string>, number][]
}

/** Registers the gauges with the default registry now; they report once `attach` gave them a source. */
export function scrapedGauges<R>(specs: ScrapedGauge<R>[]): { attach(read: () => Promise<R>, logger: Logger): void } {
  let source: { read: () => Promise<R>; logger: Logger } | undefined
  let sampled: { at: number; reading: Promise<R> } | undefined
  for (const spec of specs) {
    new client.Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      async collect(this: client.Gauge) {
        if (!source) return
        if (!sampled || Date.now() - sampled.at > 1_000) sampled = { at: Date.now(), reading: source.read() }
        try {
          const values = spec.samples(await sampled.reading)
          this.reset() // a dropped table or slot leaves the scrape
          for (const [labels, value] of values) this.set(labels, value)
        } catch (error) {
          source.logger.debug({ err: error, metric: spec.name }, 'not read; the metric keeps its last values')
        }
      },
    })
  }
  return {
    attach(read, logger) {
      source = { read, logger }
    },
  }
}
