// Serves the admin web app: /admin/offers-feed and every path below it answer the same HTML page (the app routes
// in the browser), /admin/offers-feed/assets/<file> the hashed bundle files with long-lived caching. If the bundle
// cannot be built the rest of the API still starts; these routes then answer 503 with the reason.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UI_ASSETS_PATH, UI_BASE, uiAssets, type UiAsset, type UiAssets } from './ui-assets.ts';

export interface UiRoutesOptions {
  /** A build to serve instead of the process-wide one (tests). */
  assets?: UiAssets | Promise<UiAssets>;
}

function preferredEncoding(req: FastifyRequest): 'br' | 'gzip' | null {
  const accept = String(req.headers['accept-encoding'] ?? '');
  const offered = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find(Boolean);
    offered.set(name, q ? Number(q[1]) : 1);
  }
  const ok = (n: string) => (offered.get(n) ?? offered.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return null;
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: UiAsset) {
  const enc = preferredEncoding(req);
  reply
    .header('content-type', a.contentType)
    .header('cache-control', 'public, max-age=31536000, immutable')
    .header('vary', 'accept-encoding');
  if (enc) reply.header('content-encoding', enc);
  return reply.send(enc === 'br' ? a.br : enc === 'gzip' ? a.gzip : a.body);
}

export default async function uiRoutes(app: FastifyInstance, o: UiRoutesOptions = {}) {
  let assets: UiAssets | undefined;
  let failure: string | undefined;
  try {
    assets = await (o.assets ?? uiAssets());
    app.log.debug({ ms: assets.buildMs, script: assets.script }, 'admin UI built');
  } catch (e) {
    failure = (e as Error).message;
    app.log.error({ err: e }, 'admin UI could not be built; /admin/offers-feed answers 503');
  }

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!assets) return reply.code(503).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(`The admin UI is unavailable: ${failure}`);
    // Revalidated on every visit, so a new deployment's bundle names are picked up at once.
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-robots-tag', 'noindex, nofollow')
      .send(assets.html);
  };

  app.get(UI_BASE, page);
  app.get<{ Params: { '*': string } }>(`${UI_BASE}/*`, async (req, reply) => {
    if (req.params['*'] === 'assets' || req.params['*'].startsWith('assets/')) return reply.callNotFound();
    return page(req, reply);
  });
  app.get<{ Params: { file: string } }>(`${UI_ASSETS_PATH}/:file`, async (req, reply) => {
    const a = assets?.files.get(req.params.file);
    if (!a) return reply.callNotFound();
    return sendAsset(req, reply, a);
  });
}
