// What the console's OpenAPI document says about itself: shared by its composition root (main.ts) and the contract
// check that builds every process's document without starting it (tests/contracts/documents.ts).
export const consoleAppInfo = {
  name: 'console',
  title: 'TrackOps console',
  description: 'The operator console and customer tracking page; proxies /api/* to the services and adds /api/ops/* views.',
  tags: {
    operations: 'Views over the whole system for operators: health of every service, Kafka topics and groups, connectors, caches, metrics.',
    development: 'Development mode only: tokens for every role, for the sign-in page.',
  },
}
