// Runs a spec given as YAML text through the real engine, collecting offers in memory.
import { Writable } from 'node:stream';
import { parseSpec } from '../../engine/spec/loader.ts';
import { Redactor } from '../../engine/log/redact.ts';
import { createLogger } from '../../engine/log/logger.ts';
import { runConnector, type RunOptions } from '../../engine/run/runner.ts';
import { MemorySink } from '../../engine/run/ndjson-sink.ts';
import { resolveConfig } from '../../engine/spec/config.ts';
import type { ApiCall } from '../../engine/http/runtime.ts';

export async function runYaml(yaml: string, { config: rawConfig, baseUrl, ...opts }: { config?: Record<string, unknown>; baseUrl?: string } & Partial<Omit<RunOptions, 'config'>> = {}) {
  const spec = parseSpec(yaml, 'test.yaml');
  const redactor = new Redactor();
  const logLines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const logger = createLogger({ redactor, level: 'debug', destination });
  const config = await resolveConfig(spec, [{ name: 'test', get: async () => rawConfig ?? {} }], redactor);
  const sink = new MemorySink();
  const calls: ApiCall[] = [];
  const result = await runConnector({
    spec, config, redactor, logger, sink, baseUrlOverride: baseUrl, onApiCall: (c) => calls.push(c),
    retryOverride: { backoffMs: 10, maxBackoffMs: 5000 }, ...opts,
  });
  return { result, offers: sink.items, quarantined: sink.quarantined, calls, logs: logLines.join('') };
}

/** A logger that writes nowhere, for tests that only look at results. */
export const quietLogger = () => createLogger({ redactor: new Redactor(), level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

/** A minimal valid spec around one stream, for tests that vary a single part. */
export function specYaml(parts: { auth?: string; stream: string; config?: string; top?: string }): string {
  return `dsl: 1
id: testnet
name: Test Network
kind: affiliate-network
base_url: https://api.testnet.example
${parts.config ?? ''}
${parts.auth ?? ''}
${parts.top ?? ''}
streams:
${parts.stream}
`;
}
