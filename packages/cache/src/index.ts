export { createEntityCache, type EntityCache, type EntityCacheOptions, type CacheStats, type Codec, type Loaded, type WriteOutcome } from './entity-cache.ts'
export { createCacheRegistry, type CacheRegistry } from './registry.ts'
export { createFanout, type Fanout, type FanoutMessage, type FanoutOptions, type Listener } from './fanout.ts'
export { createClientQueue, streamToClient, formatSse, type ClientQueue, type ClientItem, type OverflowPolicy } from './client-queue.ts'
