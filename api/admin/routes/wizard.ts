// The "Import New Network" wizard over HTTP: fetch a sample server-side (SSRF-guarded) or take a pasted one, detect
// its records and propose a mapping; preview the mapped offers with validation errors; save the connector (spec,
// sandbox, README; credentials into the secret store) and start its first run. Samples stay on the server between
// steps, keyed by an id, for the admin who fetched them.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { detectRecords } from '../../../engine/wizard/detect.ts';
import { proposeMapping } from '../../../engine/wizard/propose.ts';
import { checkDraft, credentialValues } from '../../../engine/wizard/draft.ts';
import { DetectionError, DraftError, fetchSample, MapExpressionError, previewMapping, saveConnector, SaveError, SsrfError, ResponseTooLargeError, type WizardDraft } from '../../../engine/wizard/wizard.ts';
import type { Detection } from '../../../engine/wizard/detect.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { perform } from '../guard.ts';

const MAX_PASTE = 5 * 1024 * 1024;
const draftSchema = { type: 'object', required: ['id', 'name', 'base_url', 'auth', 'request'] } as const;

/** What the UI needs of a detection (the decoded document and the 200 sample records stay on the server). */
const detectionView = (d: Detection) => ({
  format: d.format, decoder: d.decoder, records: d.records ?? null, count: d.count, fields: d.fields, alternatives: d.alternatives,
});

/** Engine errors turned into 422 answers with a code the UI can act on. */
function asApiError(e: unknown): unknown {
  if (e instanceof SsrfError) return new AdminApiError(422, e.message, 'ssrf');
  if (e instanceof ResponseTooLargeError) return new AdminApiError(422, e.message, 'too_large');
  if (e instanceof MapExpressionError) return new AdminApiError(422, e.message, 'map', e.position === undefined ? undefined : { position: e.position });
  if (e instanceof DraftError || e instanceof DetectionError) return new AdminApiError(422, e.message, 'unprocessable');
  if (e instanceof SaveError) return new AdminApiError(e.status, e.message, e.status === 409 ? 'conflict' : 'unprocessable', e.problems.length ? { problems: e.problems } : undefined);
  return e;
}

export default async function wizardRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  const owner = (req: FastifyRequest) => `${req.principal!.via}:${req.principal!.user}`;
  const sampleOf = (req: FastifyRequest, id: string) => {
    const s = ctx.samples.get(owner(req), id);
    if (!s) throw new AdminApiError(404, 'the sample has expired or belongs to someone else: fetch it again', 'not_found');
    return s;
  };

  app.post<{ Body: { draft: WizardDraft; pasted?: string; content_type?: string } }>('/wizard/sample', {
    bodyLimit: MAX_PASTE + 64 * 1024,
    schema: { body: { type: 'object', required: ['draft'], additionalProperties: false, properties: { draft: draftSchema, pasted: { type: 'string', maxLength: MAX_PASTE }, content_type: { type: 'string', maxLength: 200 } } } },
  }, async (req) => perform(ctx, req, 'wizard.fetch', req.body.draft.id ?? null, async () => {
    const { draft, pasted } = req.body;
    try {
      if (pasted !== undefined) {
        checkDraft(draft);
        const body = Buffer.from(pasted, 'utf8');
        const sample = { body, contentType: req.body.content_type };
        const sample_id = ctx.samples.put(owner(req), sample);
        let detection: Detection | undefined;
        let detection_error: string | undefined;
        try { detection = await detectRecords({ body, contentType: sample.contentType, decoder: draft.decoder, records: draft.records }); } catch (e) { detection_error = (e as Error).message; }
        return {
          sample_id, ok: true, status: null, url: null, headers: {}, bytes: body.length, text: pasted.slice(0, 65_536), redirects: [],
          detection: detection ? detectionView(detection) : null, detection_error: detection_error ?? null,
          proposal: detection ? proposeMapping(detection.fields, { kind: draft.stream?.kind }) : null,
        };
      }
      const s = await fetchSample(draft, { policy: ctx.wizardPolicy });
      const sample_id = ctx.samples.put(owner(req), { body: s.body, contentType: s.contentType });
      return {
        sample_id, ok: s.ok, status: s.status, url: s.url, headers: s.headers, bytes: s.bytes, text: s.text, redirects: s.redirects,
        detection: s.detection ? detectionView(s.detection) : null, detection_error: s.detectionError ?? (s.ok ? null : `the server answered HTTP ${s.status}`),
        proposal: s.proposal ?? null,
      };
    } catch (e) {
      throw asApiError(e);
    }
  }, { url: req.body.draft.base_url, pasted: req.body.pasted !== undefined }));

  app.post<{ Body: { draft: WizardDraft; sample_id: string; limit?: number } }>('/wizard/preview', {
    schema: { body: { type: 'object', required: ['draft', 'sample_id'], additionalProperties: false, properties: { draft: draftSchema, sample_id: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 500 } } } },
  }, async (req) => perform(ctx, req, 'wizard.fetch', req.body.draft.id ?? null, async () => {
    const sample = sampleOf(req, req.body.sample_id);
    try {
      const p = await previewMapping(req.body.draft, sample, { timeBudgetMs: 10_000 });
      const limit = req.body.limit ?? 50;
      return {
        records: p.records, offers: p.offers.slice(0, limit), offers_total: p.offers.length,
        errors: p.errors.slice(0, limit).map((e) => ({ index: e.index, external_id: e.external_id ?? null, reasons: e.reasons, record: e.record })), errors_total: p.errors.length,
        filtered: p.filtered, duplicates: p.duplicates, truncated: p.truncated, decoder: p.decoder, records_expr: p.recordsExpr ?? null,
      };
    } catch (e) {
      throw asApiError(e);
    }
  }));

  app.post<{ Body: { draft: WizardDraft; sample_id: string; overwrite?: boolean; run?: boolean } }>('/wizard/save', {
    schema: { body: { type: 'object', required: ['draft', 'sample_id'], additionalProperties: false, properties: { draft: draftSchema, sample_id: { type: 'string', maxLength: 64 }, overwrite: { type: 'boolean' }, run: { type: 'boolean' } } } },
  }, async (req, reply) => {
    const { draft } = req.body;
    // The audit entry names the settings stored, never their values.
    const result = await perform(ctx, req, 'wizard.save', draft.id ?? null, async () => {
      const sample = sampleOf(req, req.body.sample_id);
      try {
        const saved = await saveConnector(draft, sample, { secrets: ctx.host.secrets, overwrite: req.body.overwrite === true });
        await ctx.host.scheduler.refresh(saved.id);
        const job = req.body.run === false ? null : await ctx.host.scheduler.runNow(saved.id, { actor: req.principal!.user });
        job?.done.catch(() => undefined);
        return { id: saved.id, files: saved.files, yaml: saved.yaml, offers: saved.offers, quarantined: saved.quarantined, secrets: saved.secrets, contract: saved.contract ?? null, job: job ? { jobId: job.jobId } : null };
      } catch (e) {
        throw asApiError(e);
      }
    }, { overwrite: req.body.overwrite === true, settings: Object.keys(credentialValues(draft.auth ?? { type: 'none' })) });
    return reply.status(201).send(result);
  });
}
