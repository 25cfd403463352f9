// Enrichment status (the runner's queue and recent jobs with their cost and errors) and the review queue of
// machine-written copy and translations: approve, edit, reject. Decisions are audited and announced live.
import type { FastifyInstance } from 'fastify';
import type { ReviewFilter } from '../../../engine/store/enrichment-store.ts';
import type { CopyEdit, TranslationEdit } from '../../../engine/enrich/review.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { perform } from '../guard.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
const noteBody = { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 1000 } } } as const;

export default async function reviewRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  const services = () => {
    if (!ctx.host.services) throw new AdminApiError(409, 'enrichment does not run in this process', 'conflict');
    return ctx.host.services;
  };

  app.get('/enrichment', async (req) => perform(ctx, req, 'read', null, async () => {
    const s = services();
    const jobs = await s.runner.enrichmentStore.listJobs({ limit: 50 });
    return { status: s.runner.status(), provider: s.runner.provider ? { model: s.runner.provider.model } : null, reviews: await s.reviews.counts(), recent: jobs };
  }));

  app.post('/enrichment/run', async (req, reply) => perform(ctx, req, 'enrich.run', null, async () => {
    const { jobId } = services().runner.enrichAll();
    return reply.status(202).send({ jobId });
  }));

  app.get<{ Querystring: ReviewFilter }>('/review', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['pending', 'approved', 'edited', 'rejected', 'superseded'], default: 'pending' }, kind: { type: 'string', enum: ['copy', 'translation'] },
          lang: { type: 'string', maxLength: 10 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, afterId: { type: 'integer', minimum: 0 },
        },
      },
    },
  }, async (req) => perform(ctx, req, 'read', null, async () => {
    const s = services();
    return { counts: await s.reviews.counts(), items: await s.reviews.list(req.query) };
  }));

  const announce = (item: { id: number; status: string; offer_id: string }) => ctx.host.bus.publish('review.changed', { id: item.id, status: item.status, offer_id: item.offer_id });

  app.post<{ Params: { id: number }; Body: { note?: string } | null }>('/review/:id/approve', { schema: { params: idParams, body: noteBody } }, async (req) =>
    perform(ctx, req, 'review.decide', String(req.params.id), async () => {
      const item = await services().reviews.approve(req.params.id, req.principal!.user, req.body?.note);
      announce(item);
      return item;
    }, { decision: 'approve' }));

  app.post<{ Params: { id: number }; Body: { note?: string } | null }>('/review/:id/reject', { schema: { params: idParams, body: noteBody } }, async (req) =>
    perform(ctx, req, 'review.decide', String(req.params.id), async () => {
      const item = await services().reviews.reject(req.params.id, req.principal!.user, req.body?.note);
      announce(item);
      return item;
    }, { decision: 'reject' }));

  app.post<{ Params: { id: number }; Body: { content: CopyEdit | TranslationEdit; note?: string } }>('/review/:id/edit', {
    schema: { params: idParams, body: { type: 'object', required: ['content'], additionalProperties: false, properties: { content: { type: 'object' }, note: { type: 'string', maxLength: 1000 } } } },
  }, async (req) => perform(ctx, req, 'review.decide', String(req.params.id), async () => {
    const item = await services().reviews.edit(req.params.id, req.principal!.user, req.body.content, req.body.note);
    announce(item);
    return item;
  }, { decision: 'edit' }));
}
