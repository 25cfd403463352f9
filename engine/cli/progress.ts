// Run progress on stderr: a live bar on a terminal, a plain line every few seconds otherwise.
import cliProgress from 'cli-progress';
import type { RunProgress } from '../run/runner.ts';

export interface ProgressDisplay { update(p: RunProgress): void; stop(): void }

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressDisplay {
  const started = Date.now();
  const rate = (p: RunProgress) => Math.round(p.records / Math.max(0.001, (Date.now() - started) / 1000));
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: `${label} | pages {pages} | records {records} | offers {offers} | quarantined {quarantined} | {rate} rec/s | {duration_formatted}`,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic);
    bar.start(0, 0, { pages: 0, records: 0, offers: 0, quarantined: 0, rate: 0 });
    return {
      update: (p) => bar.update(0, { ...p, rate: rate(p) }),
      stop: () => bar.stop(),
    };
  }
  let last = Date.now();
  return {
    update(p) {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      stream.write(`${label}: pages ${p.pages}, records ${p.records}, offers ${p.offers}, quarantined ${p.quarantined}, ${rate(p)} rec/s\n`);
    },
    stop() {},
  };
}
