// `offerfeed connectors new <id> --from <template>`: copies a connector template (examples/templates/<name>/,
// itself a complete connector folder with a passing sandbox) to connectors/<id>/ and renames it, so an
// integrator starts from something that already validates and passes its contract test.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { connectorsDir as defaultConnectorsDir, projectRoot } from '../spec/registry.ts';
import { loadSpecFile } from '../spec/loader.ts';

export const CONNECTOR_ID = /^[a-z0-9][a-z0-9-]*$/;

/** Where the templates shipped with OfferFeed live. */
export const defaultTemplatesDir = (): string => join(projectRoot, 'examples', 'templates');

export class ScaffoldError extends Error {
  constructor(message: string) { super(message); this.name = 'ScaffoldError'; }
}

export interface TemplateInfo { id: string; name: string; kind?: string; description?: string; dir: string }

export interface ScaffoldOptions {
  connectorsDir?: string;
  templatesDir?: string;
  /** Display name for `name:` and the README title; default: the id in title case ("acme-deals" → "Acme Deals"). */
  name?: string;
}

// Template READMEs wrap text about the template itself (how to copy it) in these markers; copies drop it.
const TEMPLATE_ONLY = /[ \t]*<!-- template-only -->[\s\S]*?<!-- \/template-only -->[ \t]*\n?/g;
// A connector folder holds no TypeScript: a template's helper scripts (feed generators, tests) stay behind.
const SKIP_FILE = (name: string) => name.endsWith('.ts') || name.startsWith('.');

/** The templates in a folder: subfolders holding a connector.yaml, with the spec's name, kind and description. */
export async function listTemplates(opts: { templatesDir?: string } = {}): Promise<TemplateInfo[]> {
  const dir = resolve(opts.templatesDir ?? defaultTemplatesDir());
  if (!existsSync(dir)) return [];
  const out: TemplateInfo[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const specFile = join(dir, entry.name, 'connector.yaml');
    if (!entry.isDirectory() || !existsSync(specFile)) continue;
    // Only the descriptive keys are read: a listing should not fail because one template has a spec error.
    let doc: Record<string, unknown> = {};
    try { doc = (parseYaml(await readFile(specFile, 'utf8')) ?? {}) as Record<string, unknown>; } catch { /* listed by id only */ }
    out.push({
      id: entry.name,
      name: typeof doc.name === 'string' ? doc.name : entry.name,
      kind: typeof doc.kind === 'string' ? doc.kind : undefined,
      description: typeof doc.description === 'string' ? doc.description.trim() : undefined,
      dir: join(dir, entry.name),
    });
  }
  return out;
}

/**
 * Copies template `template` to `<connectorsDir>/<id>/`, rewriting the spec's `id:` and `name:`, the README's
 * title and every mention of the template's id (and its OFFERFEED_<ID>_ variable prefix), and `network` in
 * sandbox/expected.ndjson. Never overwrites: an existing folder is an error. The copy is checked with the
 * spec loader before it is kept, so a successful scaffold always leaves a valid connector.
 */
export async function scaffoldConnector(id: string, template: string, opts: ScaffoldOptions = {}): Promise<{ dir: string; files: string[] }> {
  if (!CONNECTOR_ID.test(id)) {
    throw new ScaffoldError(`connector id "${id}" is not valid: use lower-case letters, digits and dashes, starting with a letter or digit (e.g. "acme-deals")`);
  }
  const templatesDir = resolve(opts.templatesDir ?? defaultTemplatesDir());
  const templates = await listTemplates({ templatesDir });
  // Matching against the listing (not joining the raw argument) keeps "../x" from reaching outside the folder.
  const tpl = templates.find((t) => t.id === template);
  if (!tpl) {
    throw new ScaffoldError(`unknown template "${template}" (templates in ${templatesDir}: ${templates.map((t) => t.id).join(', ') || 'none'})`);
  }
  const targetRoot = resolve(opts.connectorsDir ?? defaultConnectorsDir());
  const dir = join(targetRoot, id);
  if (existsSync(dir)) throw new ScaffoldError(`${dir} already exists: pick another id, or remove that folder first`);
  await mkdir(targetRoot, { recursive: true });
  try {
    // Non-recursive mkdir claims the folder atomically: a folder created meanwhile is still never overwritten.
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ScaffoldError(`${dir} already exists: pick another id, or remove that folder first`);
    throw e;
  }
  const name = opts.name?.trim() || titleFromId(id);
  const files: string[] = [];
  try {
    for (const rel of await templateFiles(tpl.dir)) {
      const from = join(tpl.dir, rel);
      const to = join(dir, rel);
      await mkdir(join(to, '..'), { recursive: true });
      const rewrite = rewriterFor(rel, { from: tpl.id, to: id, name, template: tpl.id });
      if (rewrite) await writeFile(to, rewrite(await readFile(from, 'utf8')));
      else await copyFile(from, to);
      files.push(rel);
    }
    await loadSpecFile(join(dir, 'connector.yaml'));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, files };
}

async function templateFiles(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(join(root, sub), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = sub ? `${sub}/${entry.name}` : entry.name;
    if (entry.isDirectory()) { if (!entry.name.startsWith('.') && entry.name !== 'node_modules') out.push(...await templateFiles(root, rel)); }
    else if (entry.isFile() && !SKIP_FILE(entry.name)) out.push(rel);
  }
  return out;
}

interface Rename { from: string; to: string; name: string; template: string }

function rewriterFor(rel: string, r: Rename): ((text: string) => string) | undefined {
  if (rel === 'connector.yaml') return (t) => rewriteSpec(t, r);
  if (rel === 'README.md') return (t) => rewriteReadme(t, r);
  if (rel === 'sandbox/expected.ndjson') return (t) => rewriteExpected(t, r.to);
  return undefined;
}

/** Line edits rather than a YAML round trip, so the spec's comments, block scalars and layout stay as written. */
function rewriteSpec(text: string, r: Rename): string {
  let out = text.replace(/^id:[^\n]*$/m, `id: ${r.to}`).replace(/^name:[^\n]*$/m, `name: ${yamlScalar(r.name)}`);
  // The template's opening comment says how to copy it; the copy says where it came from instead.
  out = out.replace(/^(#[^\n]*\n)+/, `# ${r.name}: connector made from the ${r.template} template (examples/templates/${r.template}).\n# How it works, settings and troubleshooting: README.md.\n`);
  return out;
}

function rewriteReadme(text: string, r: Rename): string {
  let out = text.replace(TEMPLATE_ONLY, '').replace(/\n{3,}/g, '\n\n');
  out = out.replace(/^# [^\n]*$/m, `# ${r.name}`);
  out = out.replace(idPattern(r.from), r.to);
  out = out.split(envPrefix(r.from)).join(envPrefix(r.to));
  return out;
}

function rewriteExpected(text: string, id: string): string {
  return text.split('\n').map((line) => {
    if (!line.trim()) return line;
    const offer = JSON.parse(line) as Record<string, unknown>;
    offer.network = id;
    return JSON.stringify(offer);
  }).join('\n');
}

/** The id as a whole word: not part of a longer id, a file name or a word. */
const idPattern = (id: string) => new RegExp(`(?<![A-Za-z0-9_.-])${id.replace(/[-]/g, '\\-')}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`, 'g');
const envPrefix = (id: string) => `OFFERFEED_${id.toUpperCase().replace(/-/g, '_')}_`;

export function titleFromId(id: string): string {
  return id.split('-').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}

function yamlScalar(s: string): string {
  // Plain when unambiguous; otherwise a JSON string, which is valid double-quoted YAML.
  return /^[A-Za-z0-9][A-Za-z0-9 .()&'/+-]*$/.test(s) && !/\s$/.test(s) ? s : JSON.stringify(s);
}
