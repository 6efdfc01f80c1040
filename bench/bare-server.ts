// The floor under GET /api/orders/{id}: a bare Fastify route answering with the same order JSON from memory, no
// auth, rate limit, logging, metrics, tracing or database. The bench starts it on a spare port with the same Node
// and prints the port on stdout.
import Fastify from 'fastify'

const order = JSON.parse(process.env.BENCH_BARE_BODY ?? '{}') as Record<string, unknown>
const app = Fastify({ logger: false })
app.get('/api/orders/:id', async (req, reply) => reply.header('etag', `"${String(order.version ?? 1)}"`).send({ ...order, id: (req.params as { id: string }).id }))
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`)
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
