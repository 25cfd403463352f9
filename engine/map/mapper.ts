// Raw record → canonical offer: filter, JSONata map, normalize, validate. A record that fails any step is
// quarantined with its reasons; it never stops the run, except when an expression guard stopped the filter
// or the map (time, depth, size): that is the spec's fault, and would cost up to the time limit per record.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Stream } from '../types/connector.generated.ts';
import type { Offer } from '../types/offer.generated.ts';
import { AsyncEvaluationRequired, compileExpression, ExpressionGuardError, type Bindings, type CompiledExpression, type EvaluateOptions } from '../expr/jsonata.ts';
import { normalizeOffer, type NormalizeContext } from '../normalize/index.ts';
import { validateOffer, type Reason } from '../validate/offer-validator.ts';

export interface QuarantineItem {
  network: string;
  stream: string;
  partition?: unknown;
  page?: number;
  external_id?: string;
  reasons: Reason[];
  record: unknown;
}

export type MapOutcome = { kind: 'offer'; offer: Offer } | { kind: 'filtered' } | { kind: 'quarantine'; item: QuarantineItem };

export class RecordMapper {
  private readonly filter?: CompiledExpression;
  private readonly map: CompiledExpression;

  /** the normalize context of every record of the stream, made once */
  private readonly ctx: NormalizeContext;

  constructor(private readonly stream: Stream, private readonly network: string, normalizeCtx: Omit<NormalizeContext, 'network' | 'defaultKind'>) {
    this.ctx = { ...normalizeCtx, network, defaultKind: stream.kind };
    this.filter = stream.filter ? compileExpression(stream.filter) : undefined;
    this.map = compileExpression(stream.map ?? '$');
  }

  /** Whether the stream's filter and map run as compiled JavaScript (else on `jsonata`). */
  get compiled(): { filter?: boolean; map: boolean } {
    return { filter: this.filter?.compiled, map: this.map.compiled };
  }

  async mapRecord(record: unknown, bindings: Bindings, where: { partition?: unknown; page?: number }): Promise<MapOutcome> {
    if (performance.now() - lastTurn > BUSY_MS) await giveTurn();
    const quarantine = (reasons: Reason[], external_id?: string): MapOutcome => ({
      kind: 'quarantine',
      item: { network: this.network, stream: this.stream.name, partition: where.partition, page: where.page, external_id, reasons, record },
    });
    let mapped: unknown;
    try {
      if (this.filter) {
        let keep = evaluate(this.filter, record, bindings);
        if (keep instanceof Promise) keep = await keep;
        if (!truthy(keep)) return { kind: 'filtered' };
      }
      // the mapped object is only read for its own defined properties (normalizeOffer), so plain objects,
      // undefined-valued keys included, will do
      mapped = evaluate(this.map, record, bindings, PLAIN);
      if (mapped instanceof Promise) mapped = await mapped;
    } catch (e) {
      if (e instanceof ExpressionGuardError) throw e;
      return quarantine([{ field: '(map)', rule: 'map', message: (e as Error).message }]);
    }
    if (!mapped || typeof mapped !== 'object' || Array.isArray(mapped)) {
      return quarantine([{ field: '(map)', rule: 'map', value: mapped, message: 'the map expression must produce one object per record' }]);
    }
    if (exceedsValues(mapped, MAX_VALUES)) {
      // a few steps can build a value whose parts are shared, exponentially large to walk: it goes no further
      return quarantine([{ field: '(map)', rule: 'map', message: `the map produced more than ${MAX_VALUES} values for one record` }]);
    }
    const offer = normalizeOffer(mapped as Record<string, unknown>, this.ctx);
    const reasons = validateOffer(offer);
    if (reasons) return quarantine(reasons, typeof offer.external_id === 'string' ? offer.external_id : undefined);
    return { kind: 'offer', offer: offer as unknown as Offer };
  }
}

// normalizeOffer skips keys whose value is undefined, so the map's result object may keep them
const PLAIN: EvaluateOptions = { plainObjects: true, looseResult: true };

// Mapping runs synchronously record after record; the API may share the process, so after BUSY_MS of
// mapping without a break, pending I/O gets a turn.
const BUSY_MS = 20;
let lastTurn = performance.now();
async function giveTurn(): Promise<void> {
  await nextTurn();
  lastTurn = performance.now();
}

/** Most values (objects, arrays and scalars, shared ones counted each time) one mapped record may hold. */
export const MAX_VALUES = 100_000;
function exceedsValues(value: unknown, max: number): boolean {
  const stack: unknown[] = [value];
  let count = 1;
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      if ((count += v.length) > max) return true;
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else {
      for (const k in v) {
        if (++count > max) return true;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return false;
}

/** Compiled expressions run synchronously (no promise per record); the rest go through jsonata. */
function evaluate(expr: CompiledExpression, record: unknown, bindings: Bindings, options?: EvaluateOptions): unknown {
  if (expr.evaluateSync) {
    try {
      return expr.evaluateSync(record, bindings, options);
    } catch (e) {
      if (!(e instanceof AsyncEvaluationRequired)) throw e;
    }
  }
  return expr.evaluate(record, bindings);
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));
