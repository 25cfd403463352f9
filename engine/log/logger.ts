// Structured logs (pino) to stderr, so stdout stays free for NDJSON output. Every line passes the redactor.
import pino, { type Logger } from 'pino';
import type { Redactor } from './redact.ts';

export type { Logger };

export function createLogger(opts: { redactor?: Redactor; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.OFFERFEED_LOG_LEVEL ?? 'info';
  const redactor = opts.redactor;
  return pino(
    {
      level,
      base: undefined,
      ...(redactor ? { hooks: { streamWrite: (s: string) => redactor.redact(s) } } : {}),
    },
    (opts.destination ?? pino.destination({ fd: 2, sync: true })) as pino.DestinationStream,
  );
}
