// Classifies a response: the spec's own rules first (status and/or a JSONata predicate over $status,
// $headers, $body), then built-in defaults. Some APIs answer 200 with an error body, or put the
// throttling wait in the body; rules express both.
import type { ResponseRule } from '../types/connector.generated.ts';
import { compileExpression, template } from '../expr/jsonata.ts';
import { parseRetryAfter } from './retry.ts';

export type Action = 'success' | 'retry' | 'rate_limited' | 'refresh_token' | 'ignore' | 'fail';

export interface Classification { action: Action; message?: string; waitMs?: number; rule?: number }

export interface ResponseView { status: number; headers: Record<string, string | string[] | undefined>; body?: unknown }

export async function classify(res: ResponseView, rules: ResponseRule[], retryStatuses: number[], extraBindings: Record<string, unknown> = {}): Promise<Classification> {
  const bindings = { ...extraBindings, status: res.status, headers: res.headers, body: res.body };
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (rule.status !== undefined && !(Array.isArray(rule.status) ? rule.status : [rule.status]).includes(res.status)) continue;
    if (rule.when !== undefined && !truthy(await compileExpression(rule.when).evaluate(res.body ?? {}, bindings))) continue;
    const message = rule.message ? stringOrUndefined(await template(rule.message).render(bindings, res.body ?? {})) : undefined;
    let waitMs: number | undefined;
    if (rule.wait) {
      const w = await template(rule.wait).render(bindings, res.body ?? {});
      waitMs = typeof w === 'number' ? w * 1000 : parseRetryAfter(stringOrUndefined(w));
    }
    return { action: rule.action, message, waitMs, rule: i };
  }
  const s = res.status;
  if (s >= 200 && s < 300) return { action: 'success' };
  if (s === 429) return { action: 'rate_limited', waitMs: parseRetryAfter(res.headers['retry-after']), message: apiMessage(res.body) };
  if (s === 401) return { action: 'refresh_token', message: apiMessage(res.body) };
  if (retryStatuses.includes(s)) return { action: 'retry', message: apiMessage(res.body) };
  return { action: 'fail', message: apiMessage(res.body) };
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));
const stringOrUndefined = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v));

/** The API's own error message from common error body shapes, or a short excerpt of the text. */
export function apiMessage(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') return body.trim().slice(0, 300) || undefined;
  const b = body as Record<string, any>;
  const candidates = [
    b.message, b.error?.message, b.error_description, b.errors?.[0]?.message, b.errors?.[0]?.detail, b.Errors?.[0]?.Message,
    b.fault?.faultstring, b.Message, b.detail, b.error?.description, typeof b.error === 'string' ? b.error : undefined,
    typeof b.errors?.[0] === 'string' ? b.errors[0] : undefined, b.title,
  ];
  const found = candidates.find((c) => typeof c === 'string' && c.trim());
  return found ? String(found).trim().slice(0, 300) : JSON.stringify(body).slice(0, 300);
}
