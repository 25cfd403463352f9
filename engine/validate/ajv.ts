// One configured ajv for every schema we check (DSL, offers, connector settings).
import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export function createAjv(opts: Options = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true, ...opts });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-docs-url', schemaType: 'string' });
  return ajv;
}

/** "/streams/0/map" → ["streams", 0, "map"] */
export function pointerToPath(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** ["streams", 0, "map"] → "streams[0].map" */
export function pathLabel(path: Array<string | number>): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '') || '(top level)';
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  const short = s.length > 60 ? `${s.slice(0, 57)}...` : s;
  return `${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v} ${short}`;
}

/** A sentence per ajv error; anyOf/oneOf wrappers are folded into their most useful child. */
export function explainErrors(errors: ErrorObject[], valueAt: (path: Array<string | number>) => unknown): Array<{ path: Array<string | number>; keyPath: boolean; message: string }> {
  const out: Array<{ path: Array<string | number>; keyPath: boolean; message: string }> = [];
  const seen = new Set<string>();
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  for (const e of errors) {
    const path = pointerToPath(e.instancePath);
    const label = pathLabel(path);
    let message: string;
    let keyPath = false;
    let where = path;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys(((e.parentSchema as { properties?: object })?.properties) ?? {});
        where = [...path, key];
        keyPath = true;
        message = `unknown key "${key}" in ${label}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
        break;
      }
      case 'required':
        message = `${label} is missing the required key "${(e.params as { missingProperty: string }).missingProperty}"`;
        break;
      case 'type':
        message = `${label} must be ${(e.params as { type: string }).type}, but is ${describeValue(valueAt(path))}`;
        break;
      case 'enum':
        message = `${label} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}, but is ${describeValue(valueAt(path))}`;
        break;
      case 'const':
        message = `${label} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, but is ${describeValue(valueAt(path))}`;
        break;
      case 'discriminator': {
        const p = e.params as { error: string; tag: string; tagValue?: unknown };
        message = p.error === 'mapping'
          ? `${label}.${p.tag} must be one of the known kinds, but is ${describeValue(p.tagValue)}`
          : `${label} needs a "${p.tag}" key`;
        break;
      }
      case 'anyOf':
      case 'oneOf': {
        // When a child explains the problem precisely, it is reported instead.
        const children = errors.filter((c) => c !== e && c.instancePath.startsWith(e.instancePath) && c.keyword !== 'anyOf' && c.keyword !== 'oneOf');
        if (children.some((c) => c.keyword === 'additionalProperties' || c.keyword === 'required')) continue;
        message = `${label} has an invalid value ${describeValue(valueAt(path))}`;
        break;
      }
      default:
        message = `${label} ${e.message ?? 'is invalid'} (value: ${describeValue(valueAt(path))})`;
    }
    // Type errors inside an anyOf are noise when the anyOf itself is reported.
    if (e.keyword === 'type' && (byPath.get(e.instancePath) ?? []).some((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf')) continue;
    if (seen.has(message)) continue;
    seen.add(message);
    out.push({ path: where, keyPath, message });
  }
  return out;
}
