/** The footprint bench's Fastify hello server, on $PORT. */
import Fastify from 'fastify';

const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });
app.get('/json', async () => ({ message: 'Hello, World!' }));
app.get('/plaintext', async (_req, reply) => {
  reply.type('text/plain');
  return 'Hello, World!';
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
