// Wizard samples kept server-side between the wizard's steps (fetch → preview → save), per principal, for an
// hour: the browser holds only the sample id, so a multi-megabyte body is fetched once and never round-trips.
import { randomUUID } from 'node:crypto';
import type { Sample } from '../../engine/wizard/wizard.ts';

interface Entry { owner: string; sample: Sample; at: number }

export class SampleCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = 3_600_000, private readonly maxEntries = 50, private readonly now = () => Date.now()) {}

  put(owner: string, sample: Sample): string {
    this.prune();
    // The oldest samples go first when many are kept (a Map iterates in insertion order).
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const id = randomUUID();
    this.entries.set(id, { owner, sample, at: this.now() });
    return id;
  }

  /** The sample, if it exists, is fresh and belongs to this owner. */
  get(owner: string, id: string): Sample | undefined {
    this.prune();
    const e = this.entries.get(id);
    return e && e.owner === owner ? e.sample : undefined;
  }

  private prune(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [id, e] of this.entries) if (e.at < cutoff) this.entries.delete(id);
  }
}
