// `offerfeed serve [--host H] [--port N] [--config FILE] [--no-feed] [--sandboxes]`: the API (REST, GraphQL, clicks,
// postbacks, privacy) over the data directory's stores, and by default the feed itself in the same process: the
// scheduler, health monitor, enrichment, optimizer, and the admin API and web app at /admin/offers-feed.
// Settings: api/README.md.
import { InvalidArgumentError, type Command } from 'commander';
import { closeOnSignals, startApiServer, type RunningApi } from '../../api/server.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a TCP port (0-65535)');
  return n;
};

export interface ServeFlags { host?: string; port?: number; config?: string; feed?: boolean; sandboxes?: boolean; /** Arm scheduled runs at start (default true). */ schedule?: boolean }

/** Starts the server as `serve` does and prints where everything is. */
export async function serve(opts: ServeFlags, out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<RunningApi> {
  const running = await startApiServer({
    host: opts.host, port: opts.port, configFile: opts.config,
    feed: opts.feed === false ? undefined : { sandboxes: opts.sandboxes === true, schedule: opts.schedule },
  });
  out(`OfferFeed API on ${running.url} (docs ${running.url}/docs, GraphQL ${running.url}/graphql)`);
  if (running.host) out(`Admin: ${running.url}/admin/offers-feed${opts.sandboxes ? ' (connectors with a sandbox sync from it)' : ''}`);
  closeOnSignals(running, running.api.services.config.shutdownTimeoutS);
  return running;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the API and the admin UI, and run the feed (scheduler, health checks, enrichment, optimizer)')
    .option('--host <host>', 'address to listen on (default: config, else 127.0.0.1)')
    .option('--port <n>', 'port (default: config, else 8080)', port)
    .option('--config <file>', 'API config file, JSON or YAML (also OFFERFEED_API_CONFIG)')
    .option('--no-feed', 'serve the API only: no scheduler, no admin (for additional read-only API processes)')
    .option('--sandboxes', 'run every connector that has a sandbox against it, with its invented settings (demos)')
    .action(async (opts: ServeFlags) => {
      const running = await serve(opts);
      await running.loaded.catch(() => undefined);
    });
}
