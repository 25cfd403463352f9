// The --dry-run sink: canonical offers as NDJSON (one per line) to a file or stdout, first occurrence of an
// (network, external_id) winning, so an offer repeated across pages is written once.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { Offer } from '../types/offer.generated.ts';
import type { QuarantineItem } from '../map/mapper.ts';
import type { OfferSink } from './runner.ts';

export class NdjsonSink implements OfferSink {
  private readonly seen = new Set<string>();
  duplicates = 0;
  readonly quarantined: QuarantineItem[] = [];

  constructor(private readonly out: Writable) {}

  static toFile(path: string): NdjsonSink {
    return new NdjsonSink(createWriteStream(path));
  }

  async offers(batch: Offer[]): Promise<void> {
    let text = '';
    for (const offer of batch) {
      const key = `${offer.network}\u0000${offer.external_id}`;
      if (this.seen.has(key)) { this.duplicates++; continue; }
      this.seen.add(key);
      text += `${JSON.stringify(offer)}\n`;
    }
    if (text && !this.out.write(text)) await once(this.out, 'drain');
  }

  async quarantine(items: QuarantineItem[]): Promise<void> {
    this.quarantined.push(...items);
  }

  async close(): Promise<void> {
    if (this.out === process.stdout) return;
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/** Collects offers in memory (contract tests, previews); like every sink, the first occurrence of an offer wins. */
export class MemorySink implements OfferSink {
  readonly items: Offer[] = [];
  readonly quarantined: QuarantineItem[] = [];
  private readonly seen = new Set<string>();
  duplicates = 0;
  async offers(batch: Offer[]): Promise<void> {
    for (const o of batch) {
      const key = `${o.network}\u0000${o.external_id}`;
      if (this.seen.has(key)) { this.duplicates++; continue; }
      this.seen.add(key);
      this.items.push(o);
    }
  }
  async quarantine(items: QuarantineItem[]): Promise<void> { this.quarantined.push(...items); }
}
