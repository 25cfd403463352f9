// `offerfeed serve [--host H] [--port N] [--config FILE]`: the public API (REST, GraphQL, clicks, postbacks,
// privacy) over the data directory's stores. Settings: api/README.md.
import { InvalidArgumentError, type Command } from 'commander';
import { closeOnSignals, startApiServer } from '../../api/server.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a TCP port (0-65535)');
  return n;
};

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the API: REST (+ OpenAPI at /docs), GraphQL with subscriptions, clicks, postbacks, privacy')
    .option('--host <host>', 'address to listen on (default: config, else 127.0.0.1)')
    .option('--port <n>', 'port (default: config, else 8080)', port)
    .option('--config <file>', 'API config file, JSON or YAML (also OFFERFEED_API_CONFIG)')
    .action(async (opts: { host?: string; port?: number; config?: string }) => {
      const running = await startApiServer({ host: opts.host, port: opts.port, configFile: opts.config });
      process.stdout.write(`OfferFeed API on ${running.url} (docs ${running.url}/docs, GraphQL ${running.url}/graphql)\n`);
      closeOnSignals(running, running.api.services.config.shutdownTimeoutS);
      await running.loaded.catch(() => undefined);
    });
}
