// Removes secret values from any text before it leaves the process (logs, errors, output). Secrets are
// registered as they become known: config values marked x-secret and tokens obtained at run time.
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  add(secret: unknown): void {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) return;
    // The encodings a secret takes on its way into URLs and headers.
    for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
      if (!this.secrets.has(form)) { this.secrets.add(form); this.pattern = undefined; }
    }
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.secrets].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
      'g',
    );
    return text.replace(this.pattern, '[REDACTED]');
  }

  /**
   * For text cut at an arbitrary point (a capped payload): besides whole secrets, a tail that is the start of
   * one (3 characters or more) is masked, as the cut may have fallen inside it.
   */
  redactCut(text: string): string {
    const out = this.redact(text);
    let cut = 0;
    for (const s of this.secrets) {
      for (let k = Math.min(s.length - 1, out.length); k >= 3 && k > cut; k--) {
        if (out.endsWith(s.slice(0, k))) { cut = k; break; }
      }
    }
    return cut ? `${out.slice(0, out.length - cut)}[REDACTED]` : out;
  }

  /** A copy of an Error whose message and stack carry no secret. */
  redactError(e: unknown): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    const copy = new Error(this.redact(err.message));
    copy.name = err.name;
    copy.stack = err.stack ? this.redact(err.stack) : undefined;
    return Object.assign(copy, redactFields(err as unknown as Record<string, unknown>, this));
  }
}

function redactFields(err: Record<string, unknown>, r: Redactor): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k === 'message' || k === 'stack') continue;
    out[k] = typeof v === 'string' ? r.redact(v) : v;
  }
  return out;
}
