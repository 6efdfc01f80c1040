import type { Component } from '@trackops/runtime'
import type { CacheStats } from './entity-cache.ts'

/** Collects a service's caches for `GET /actuator/caches`: `app.get('/actuator/caches', …, () => registry.snapshot())`. */
export function createCacheRegistry() {
  const caches = new Map<string, { stats: () => CacheStats }>()
  return {
    add<C extends { name: string; stats: () => CacheStats }>(cache: C): C {
      if (caches.has(cache.name)) throw new Error(`cache ${cache.name} is already registered`)
      caches.set(cache.name, cache)
      return cache
    },
    snapshot(): { caches: Record<string, CacheStats> } {
      return { caches: Object.fromEntries([...caches].map(([name, cache]) => [name, cache.stats()])) }
    },
  }
}
export type CacheRegistry = ReturnType<typeof createCacheRegistry>

/**
 * The `cache` health component of a service: DEGRADED (never DOWN: a service serves without Redis) while one of its
 * caches, or one of the `parts` that ride on the same Redis (a live feed), is degraded.
 */
export function cacheComponent(registry: CacheRegistry, parts: Record<string, () => { degraded: boolean }> = {}): Component {
  return {
    required: false,
    check: async () => {
      const { caches } = registry.snapshot()
      const more = Object.fromEntries(Object.entries(parts).map(([name, stats]) => [name, stats()]))
      const degraded = [...Object.values(caches), ...Object.values(more)].some((s) => s.degraded)
      return {
        status: degraded ? 'DEGRADED' : 'UP',
        details: {
          ...Object.fromEntries(Object.entries(caches).map(([name, s]) => [name, { degraded: s.degraded, hitRatio: s.hitRatio, pendingInvalidations: s.pendingInvalidations }])),
          ...more,
        },
      }
    },
  }
}
