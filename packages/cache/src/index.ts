export { createEntityCache, type EntityCache, type EntityCacheOptions, type CacheStats, type Codec, type Loaded, type WriteOutcome } from './entity-cache.ts'
export { createCacheRegistry, cacheComponent, type CacheRegistry } from './registry.ts'
export { createRowCache, observeInvalidationLag, type RowCache, type RowCacheOptions } from './row-cache.ts'
