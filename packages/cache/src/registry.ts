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
