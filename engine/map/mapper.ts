// Raw record → canonical offer: filter, JSONata map, normalize, validate. A record that fails any step is
// quarantined with its reasons; it never stops the run.
import type { Stream } from '../types/connector.generated.ts';
import type { Offer } from '../types/offer.generated.ts';
import { AsyncEvaluationRequired, compileExpression, type Bindings, type CompiledExpression, type EvaluateOptions } from '../expr/jsonata.ts';
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

  constructor(private readonly stream: Stream, private readonly network: string, private readonly normalizeCtx: Omit<NormalizeContext, 'network' | 'defaultKind'>) {
    this.filter = stream.filter ? compileExpression(stream.filter) : undefined;
    this.map = compileExpression(stream.map ?? '$');
  }

  /** Whether the stream's filter and map run as compiled JavaScript (else on `jsonata`). */
  get compiled(): { filter?: boolean; map: boolean } {
    return { filter: this.filter?.compiled, map: this.map.compiled };
  }

  async mapRecord(record: unknown, bindings: Bindings, where: { partition?: unknown; page?: number }): Promise<MapOutcome> {
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
      // the mapped object is only read for its own properties (normalizeOffer), so plain objects will do
      mapped = evaluate(this.map, record, bindings, PLAIN);
      if (mapped instanceof Promise) mapped = await mapped;
    } catch (e) {
      return quarantine([{ field: '(map)', rule: 'map', message: (e as Error).message }]);
    }
    if (!mapped || typeof mapped !== 'object' || Array.isArray(mapped)) {
      return quarantine([{ field: '(map)', rule: 'map', value: mapped, message: 'the map expression must produce one object per record' }]);
    }
    const offer = normalizeOffer(mapped as Record<string, unknown>, { ...this.normalizeCtx, network: this.network, defaultKind: this.stream.kind });
    const reasons = validateOffer(offer);
    if (reasons) return quarantine(reasons, typeof offer.external_id === 'string' ? offer.external_id : undefined);
    return { kind: 'offer', offer: offer as unknown as Offer };
  }
}

const PLAIN: EvaluateOptions = { plainObjects: true };

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
