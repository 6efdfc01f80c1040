export { createEntityCache, type EntityCache, type EntityCacheOptions, type CacheStats, type Codec, type Loaded, type WriteOutcome } from './entity-cache.ts'
export { createCacheRegistry, type CacheRegistry } from './registry.ts'
