// Ajv, coercing query strings, turns "1e309", "-1e309" and "Infinity" into ±Infinity and then skips minimum and
// maximum for them (its bounds only apply to finite numbers): `limit=-1e309` passed a schema of 1..100 and
// crashed the search. JSON bodies carry the same values (JSON.parse reads 1e309 as Infinity). This hook, added
// to every route whose schema declares numbers, refuses such values with a 400 before validation.
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

type Schema = { type?: unknown; properties?: Record<string, Schema>; anyOf?: Schema[]; oneOf?: Schema[] };

const isNumeric = (s: Schema | undefined): boolean => {
  if (!s || typeof s !== 'object') return false;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  return types.includes('number') || types.includes('integer') || [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some(isNumeric);
};

const numericProps = (s: unknown): string[] =>
  Object.entries((s as Schema | undefined)?.properties ?? {}).filter(([, p]) => isNumeric(p)).map(([k]) => k);

/** A value ajv would coerce to, or that already is, a non-finite number. */
function nonFinite(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(nonFinite);
  if (typeof v === 'number') return !Number.isFinite(v);
  if (typeof v !== 'string' || v.trim() === '') return false;
  const n = Number(v);
  return n === Infinity || n === -Infinity;
}

export function refuseNonFiniteNumbers(route: RouteOptions): void {
  const schema = route.schema as Record<string, unknown> | undefined;
  if (!schema) return;
  const where = (['querystring', 'params', 'body'] as const).map((part) => [part, numericProps(schema[part])] as const).filter(([, names]) => names.length);
  if (!where.length) return;
  const check = async (req: FastifyRequest, reply: FastifyReply) => {
    const parts = { querystring: req.query, params: req.params, body: req.body } as Record<string, unknown>;
    for (const [part, names] of where) {
      const values = parts[part] as Record<string, unknown> | undefined;
      if (!values || typeof values !== 'object') continue;
      const bad = names.find((n) => nonFinite(values[n]));
      if (bad) return reply.status(400).send({ error: 'bad_request', message: `invalid request: ${part}/${bad} must be a finite number`, request_id: req.id });
    }
  };
  const existing = route.preValidation;
  route.preValidation = existing ? [check, ...(Array.isArray(existing) ? existing : [existing])] as RouteOptions['preValidation'] : check;
}
