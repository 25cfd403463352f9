// Live updates for the admin UI as server-sent events: the scheduler's sync.* and scheduler.* events, commits,
// alerts, enrichment and review changes, forwarded from the event bus as they happen. The credential is checked
// again at every keep-alive, so a logged-out or revoked session loses its stream within one interval.
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from '../context.ts';
import { perform, credentialOf } from '../guard.ts';

export const ADMIN_EVENT_TOPICS = [
  'sync.queued', 'sync.started', 'sync.progress', 'sync.finished', 'sync.skipped', 'offers.committed',
  'scheduler.connector', 'scheduler.breaker', 'health.alert', 'health.resolved', 'health.selftest', 'review.changed', 'enrich.finished',
] as const;

export default async function eventRoutes(app: FastifyInstance, ctx: AdminContext, o: { keepAliveMs?: number } = {}): Promise<void> {
  const keepAliveMs = o.keepAliveMs ?? 15_000;
  // Open streams end when the server shuts down, so a graceful close does not wait for browsers to hang up.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => { for (const close of [...open]) close(); });
  app.get('/events', async (req, reply) => {
    await perform(ctx, req, 'read', null, async () => undefined);
    const cred = credentialOf(req)!;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n: connected\n\n');
    const send = (topic: string, payload: unknown) => {
      if (!res.writableEnded) res.write(`event: ${topic}\ndata: ${JSON.stringify(payload)}\n\n`);
    };
    const unsubscribe = ADMIN_EVENT_TOPICS.map((t) => ctx.host.bus.subscribe(t, (p) => send(t, p)));
    const close = () => {
      open.delete(close);
      clearInterval(ping);
      for (const u of unsubscribe) u();
      if (!res.writableEnded) res.end();
    };
    const ping = setInterval(() => {
      void ctx.host.auth.authenticate(cred.value).then((p) => {
        if (!p) close();
        else if (!res.writableEnded) res.write(': ping\n\n');
      }, close);
    }, keepAliveMs);
    ping.unref();
    open.add(close);
    req.raw.on('close', close);
  });
}
