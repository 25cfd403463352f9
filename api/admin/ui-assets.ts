// Builds the admin web app (api/admin/ui, Preact + Chart.js) with esbuild when the server starts: one JS module and
// one stylesheet, content-hashed names, precompressed, kept in memory. The HTML page only references the two
// files (no inline script: the CSP allows scripts from 'self' only) and carries no data; the app fetches
// everything from /admin/api.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { build, type Message } from 'esbuild';

export const UI_BASE = '/admin/offers-feed';
export const UI_ASSETS_PATH = `${UI_BASE}/assets`;

export interface UiAsset {
  name: string;
  contentType: string;
  body: Buffer;
  gzip: Buffer;
  br: Buffer;
}

export interface UiAssets {
  html: string;
  /** File name → asset, e.g. app.3f9a1c2b7d4e.js. */
  files: Map<string, UiAsset>;
  script: string;
  stylesheet: string | null;
  buildMs: number;
}

export class UiBuildError extends Error {
  constructor(message: string) { super(message); this.name = 'UiBuildError'; }
}

const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

function formatMessages(list: Message[]): string {
  return list.slice(0, 10).map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text)).join('\n');
}

function asset(name: string, contentType: string, body: Buffer): UiAsset {
  return {
    name, contentType, body,
    gzip: gzipSync(body, { level: 9 }),
    br: brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } }),
  };
}

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 12);

/** Bundles the app (always a fresh build; `uiAssets()` is the cached one). */
export async function buildUiAssets(o: { entry?: string } = {}): Promise<UiAssets> {
  const started = Date.now();
  let result;
  try {
    result = await build({
      entryPoints: [o.entry ?? `${UI_DIR}main.tsx`],
      tsconfig: `${UI_DIR}tsconfig.json`,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      sourcemap: false,
      write: false,
      // Only a name for the outputs (nothing is written): the CSS the entry imports becomes app.css next to app.js.
      outfile: `${UI_DIR}app.js`,
      jsx: 'automatic',
      jsxImportSource: 'preact',
      charset: 'utf8',
      legalComments: 'eof',
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    throw new UiBuildError(`admin UI build failed: ${errors?.length ? formatMessages(errors) : (e as Error).message}`);
  }
  const files = new Map<string, UiAsset>();
  let script: string | undefined;
  let stylesheet: string | null = null;
  for (const out of result.outputFiles) {
    const body = Buffer.from(out.contents);
    if (out.path.endsWith('.js')) {
      script = `app.${hash(body)}.js`;
      files.set(script, asset(script, 'text/javascript; charset=utf-8', body));
    } else if (out.path.endsWith('.css')) {
      stylesheet = `app.${hash(body)}.css`;
      files.set(stylesheet, asset(stylesheet, 'text/css; charset=utf-8', body));
    }
  }
  if (!script) throw new UiBuildError('admin UI build produced no script');
  return { html: indexHtml(script, stylesheet), files, script, stylesheet, buildMs: Date.now() - started };
}

function indexHtml(script: string, stylesheet: string | null): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    '<title>OfferFeed admin</title>',
    // An empty icon: browsers stop asking for /favicon.ico (a 404 in the log on every visit).
    '<link rel="icon" href="data:,">',
    stylesheet ? `<link rel="stylesheet" href="${UI_ASSETS_PATH}/${stylesheet}">` : '',
    `<script type="module" src="${UI_ASSETS_PATH}/${script}"></script>`,
    '</head>',
    '<body>',
    '<div id="app"></div>',
    '<noscript>The OfferFeed admin needs JavaScript.</noscript>',
    '</body>',
    '</html>',
    '',
  ].filter(Boolean).join('\n');
}

let cached: Promise<UiAssets> | undefined;

/** The build, made once per process (a failed build is retried on the next call). */
export function uiAssets(): Promise<UiAssets> {
  if (!cached) {
    cached = buildUiAssets();
    cached.catch(() => { cached = undefined; });
  }
  return cached;
}
