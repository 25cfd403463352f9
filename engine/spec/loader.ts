// Loads a connector spec: YAML with positions → schema check → semantic checks (expressions compile,
// stream references resolve, settings referenced exist). Any mistake becomes a SpecError naming
// file, line, column and what is wrong; nothing runs from an invalid spec.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ConnectorSpec, Stream } from '../types/connector.generated.ts';
import { createAjv, explainErrors } from '../validate/ajv.ts';
import { compileExpression, compileTemplate, ExpressionError, hasTemplate } from '../expr/jsonata.ts';
import { regexProblem } from '../expr/regex-guard.ts';
import { SpecError, YamlSource } from './yaml-source.ts';

export { SpecError };

/** Largest spec accepted, in bytes; the shipped specs are under 16 KiB. A spec can come from the wizard or
 *  a file someone sent, and every byte of it is parsed, validated and compiled. */
export const MAX_SPEC_BYTES = 1024 * 1024;

const schema = JSON.parse(readFileSync(new URL('../../schema/connector.schema.json', import.meta.url), 'utf8'));
const validateSchema = createAjv({ verbose: true }).compile(schema);

/** Keys whose values are whole JSONata expressions (not {{ }} templates). */
const EXPRESSION_KEYS = new Set([
  'records', 'filter', 'map', 'cursor', 'next_url', 'total_count', 'total_pages', 'has_more', 'when',
  'cursor_field', 'job_id', 'done', 'failed', 'download_url', 'token_path', 'expires_in_path',
]);
// Parts of the spec that hold free-form data or JSON Schema, not expressions.
const OPAQUE_KEYS = new Set(['config', 'description', 'notice', 'docs_url', 'name']);

export class SpecValidationError extends Error {
  constructor(readonly errors: SpecError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.name = 'SpecValidationError';
  }
}

export interface LoadedSpec {
  spec: ConnectorSpec;
  file: string;
  dir: string;
}

export async function loadSpecFile(file: string): Promise<LoadedSpec> {
  const abs = resolve(file);
  // the size is checked before reading: a huge file is refused without being held in memory
  const { size } = await stat(abs);
  if (size > MAX_SPEC_BYTES) throw tooLarge(abs, size);
  const text = await readFile(abs, 'utf8');
  return { spec: parseSpec(text, abs), file: abs, dir: dirname(abs) };
}

const tooLarge = (file: string, bytes: number) =>
  new SpecValidationError([new SpecError(file, 1, 1, `spec is ${bytes} bytes, larger than the limit of ${MAX_SPEC_BYTES} bytes (1 MiB)`)]);

export function parseSpec(text: string, file = '<spec>'): ConnectorSpec {
  // a UTF-16 length above the limit is at least as many bytes; the exact count only for the rest
  if (text.length > MAX_SPEC_BYTES || Buffer.byteLength(text, 'utf8') > MAX_SPEC_BYTES) throw tooLarge(file, Buffer.byteLength(text, 'utf8'));
  let src: YamlSource;
  let data: unknown;
  try {
    src = new YamlSource(file, text);
    data = src.toJS();
  } catch (e) {
    if (e instanceof SpecError) throw new SpecValidationError([e]);
    throw e;
  }
  const errors: SpecError[] = [];
  if (!validateSchema(data)) {
    for (const err of explainErrors(validateSchema.errors ?? [], (p) => valueAt(data, p))) {
      errors.push(src.error(err.path, err.message, err.keyPath));
    }
    throw new SpecValidationError(errors);
  }
  const spec = data as ConnectorSpec;
  checkExpressions(spec, src, [], errors);
  checkSemantics(spec, src, file, errors);
  checkConfigSchema(spec, src, errors);
  if (errors.length) throw new SpecValidationError(errors);
  sources.set(spec, src);
  return spec;
}

// ---- where an expression comes from ----------------------------------------------------------------

const sources = new WeakMap<ConnectorSpec, YamlSource>();

/**
 * "file:line:col: streams[0].map" for the field of `spec` holding the expression `source` (whole, or as a
 * {{ }} part of a template), for run-time errors; the field alone when the spec was not loaded from text
 * here, undefined when no field holds it.
 */
export function locateExpression(spec: ConnectorSpec, source: string): string | undefined {
  const src = sources.get(spec);
  const stack: Array<[unknown, Array<string | number>]> = [[spec, []]];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      let index = value === source ? 0 : -1;
      if (index < 0 && hasTemplate(value)) {
        for (const m of value.matchAll(/\{\{([\s\S]*?)\}\}/g)) {
          if (m[1].trim() === source) { index = (m.index ?? 0) + m[0].indexOf(source); break; }
        }
      }
      if (index < 0) continue;
      if (!src) return label(path);
      const p = src.posInString(path, index);
      return `${p.file}:${p.line}:${p.column}: ${label(path)}`;
    }
    if (Array.isArray(value)) for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], [...path, i]]);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value).reverse()) if (!(path.length === 0 && k === 'config')) stack.push([v, [...path, k]]);
    }
  }
  return undefined;
}

// ---- the settings schema ------------------------------------------------------------------------------

/** Most objects and arrays the `config` schema may hold (the shipped ones hold at most 29): ajv compiles a
 *  schema synchronously, and a 650 KB one takes it 15 s. */
export const MAX_CONFIG_SCHEMA_NODES = 500;

/**
 * `config` is a JSON Schema run by ajv on every run (and on values admins type in): it must stay small, its
 * regexes must not backtrack catastrophically, and it must compile (no remote $ref, valid patterns) now
 * rather than at run time.
 */
function checkConfigSchema(spec: ConnectorSpec, src: YamlSource, errors: SpecError[]): void {
  if (!spec.config) return;
  const before = errors.length;
  const stack: Array<[unknown, Array<string | number>]> = [[spec.config, ['config']]];
  let nodes = 0;
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (++nodes > MAX_CONFIG_SCHEMA_NODES) {
      errors.push(src.error(path, `config: the settings schema holds more than ${MAX_CONFIG_SCHEMA_NODES} objects and arrays (limit ${MAX_CONFIG_SCHEMA_NODES})`));
      return;
    }
    if (Array.isArray(value)) { value.forEach((v, i) => stack.push([v, [...path, i]])); continue; }
    for (const [k, v] of Object.entries(value)) {
      const here = [...path, k];
      // ajv builds patterns with the u flag
      if (k === 'pattern' && typeof v === 'string') {
        const why = regexProblem(v, 'u');
        if (why) errors.push(src.error(here, `${label(here)}: unsafe regular expression /${v}/: ${why}`));
      } else if (k === 'patternProperties' && v && typeof v === 'object') {
        for (const key of Object.keys(v)) {
          const why = regexProblem(key, 'u');
          if (why) errors.push(src.error([...here, key], `${label(here)}: unsafe regular expression /${key}/: ${why}`, true));
        }
      }
      // enum, default, examples and const hold data, not schemas
      if (k !== 'enum' && k !== 'default' && k !== 'examples' && k !== 'const') stack.push([v, here]);
    }
  }
  if (errors.length > before) return;
  try {
    createAjv({ coerceTypes: true, useDefaults: true }).compile(spec.config);
  } catch (e) {
    errors.push(src.error(['config'], `config is not a usable JSON Schema: ${(e as Error).message.split('\n')[0]}`));
  }
}

function valueAt(data: unknown, path: Array<string | number>): unknown {
  let cur: any = data;
  for (const seg of path) cur = cur?.[seg];
  return cur;
}

function checkExpressions(value: unknown, src: YamlSource, path: Array<string | number>, errors: SpecError[]): void {
  const key = path[path.length - 1];
  if (typeof key === 'string' && OPAQUE_KEYS.has(key) && path.length === 1) return;
  if (typeof value === 'string') {
    const isExpression = typeof key === 'string' && !isInsideMap(path)
      && (EXPRESSION_KEYS.has(key) || (key === 'value' && path[path.length - 2] === 'partitions'));
    try {
      if (isExpression) compileExpression(value);
      else if (hasTemplate(value)) compileTemplate(value);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      const p = src.posInString(path, e.position ?? 0);
      errors.push(new SpecError(src.file, p.line, p.column, `${label(path)}: ${e.message}`));
    }
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => checkExpressions(v, src, [...path, i], errors));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkExpressions(v, src, [...path, k], errors);
  }
}

// Inside query/headers/body maps keys are parameter names, so a key called "filter" is just a parameter.
function isInsideMap(path: Array<string | number>): boolean {
  return path.slice(0, -1).some((p) => p === 'query' || p === 'headers' || p === 'body' || p === 'params');
}

const label = (path: Array<string | number>) =>
  path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');

function checkSemantics(spec: ConnectorSpec, src: YamlSource, file: string, errors: SpecError[]): void {
  const folder = basename(dirname(file));
  if (basename(file) === 'connector.yaml' && folder !== spec.id && folder !== '.') {
    errors.push(src.error(['id'], `id "${spec.id}" must equal the connector's folder name "${folder}"`));
  }
  if (spec.status === 'retired' && !spec.notice) {
    errors.push(src.error(['status'], 'a retired connector needs a `notice` telling users what happened and what to use instead'));
  }
  const auth = spec.auth;
  if (auth?.type === 'signature' && auth.algorithm.startsWith('hmac-') && !auth.key) {
    errors.push(src.error(['auth'], `auth.algorithm ${auth.algorithm} needs auth.key`));
  }
  const zoneError = (tz: string | undefined, path: Array<string | number>) => {
    if (tz === undefined) return;
    try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); } catch { errors.push(src.error(path, `timezone "${tz}" is not an IANA time zone (e.g. America/New_York, Europe/Berlin, UTC)`)); }
  };
  zoneError(spec.timezone, ['timezone']);
  spec.streams.forEach((s, i) => zoneError(s.timezone, ['streams', i, 'timezone']));
  const names = new Map<string, number>();
  spec.streams.forEach((s, i) => {
    if (names.has(s.name)) errors.push(src.error(['streams', i, 'name'], `stream name "${s.name}" is used twice`));
    names.set(s.name, i);
  });
  spec.streams.forEach((s, i) => checkStream(s, i, names, spec, src, errors));
  checkConfigReferences(spec, src, errors);
}

function checkStream(s: Stream, i: number, names: Map<string, number>, spec: ConnectorSpec, src: YamlSource, errors: SpecError[]): void {
  const sources = (['request', 'file', 'job'] as const).filter((k) => s[k] !== undefined);
  if (sources.length !== 1) {
    errors.push(src.error(['streams', i], `stream "${s.name}" needs exactly one of request, file or job (has ${sources.length ? sources.join(', ') : 'none'})`));
  }
  if (s.request && !s.request.path && !s.request.url) {
    errors.push(src.error(['streams', i, 'request'], `stream "${s.name}": request needs a path or a url`));
  }
  const p = s.pagination;
  if (p) {
    const need: Record<string, Array<keyof typeof p>> = {
      offset: ['offset_param'], cursor: ['cursor', 'cursor_param'], next_url: ['next_url'],
    };
    for (const k of need[p.type] ?? []) {
      if (p[k] === undefined) errors.push(src.error(['streams', i, 'pagination'], `pagination type ${p.type} needs "${String(k)}"`));
    }
    if (p.stop?.short_page && !p.page_size) errors.push(src.error(['streams', i, 'pagination', 'stop'], 'stop.short_page needs pagination.page_size'));
  }
  const parent = s.partitions?.from_stream;
  if (parent !== undefined) {
    if (!names.has(parent)) errors.push(src.error(['streams', i, 'partitions', 'from_stream'], `from_stream "${parent}" is not a stream of this connector (streams: ${[...names.keys()].join(', ')})`));
    else if (parent === s.name || dependsOn(spec, parent, s.name, new Set())) errors.push(src.error(['streams', i, 'partitions', 'from_stream'], `from_stream "${parent}" makes a cycle of partitions`));
  }
  if (s.emit !== false && !s.map) errors.push(src.error(['streams', i], `stream "${s.name}" emits offers, so it needs a map (or set emit: false)`));
}

function dependsOn(spec: ConnectorSpec, from: string, target: string, seen: Set<string>): boolean {
  if (seen.has(from)) return false;
  seen.add(from);
  const parent = spec.streams.find((s) => s.name === from)?.partitions?.from_stream;
  if (!parent) return false;
  return parent === target || dependsOn(spec, parent, target, seen);
}

// `$config.foo` must name a declared setting: a typo here would otherwise surface as an empty parameter at run time.
function checkConfigReferences(spec: ConnectorSpec, src: YamlSource, errors: SpecError[]): void {
  const declared = new Set(Object.keys(spec.config?.properties ?? {}));
  const walk = (v: unknown, path: Array<string | number>) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(/\$config\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!declared.has(m[1])) {
          const p = src.posInString(path, m.index ?? 0);
          errors.push(new SpecError(src.file, p.line, p.column, `${label(path)} uses $config.${m[1]}, which config.properties does not declare${declared.size ? ` (declared: ${[...declared].join(', ')})` : ''}`));
        }
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (!(path.length === 0 && k === 'config')) walk(x, [...path, k]);
  };
  walk(spec, []);
}
