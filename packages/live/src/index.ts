export { createFanout, type Fanout, type FanoutMessage, type FanoutOptions, type Listener } from './fanout.ts'
export { createClientQueue, streamToClient, formatSse, type ClientQueue, type ClientItem, type OverflowPolicy } from './client-queue.ts'
