// `offerfeed secrets set|list|delete`: connector credentials kept encrypted in the serving store.
import type { Command } from 'commander';
import { SecretStore } from '../store/secrets.ts';
import { loadSpecFile } from '../spec/loader.ts';
import { specPath } from '../spec/registry.ts';
import { openStores } from './stores.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerSecretCommands(program: Command): void {
  const secrets = program.command('secrets').description('connector credentials, encrypted at rest (AES-256-GCM, key OFFERFEED_MASTER_KEY)');
  secrets
    .command('set <connector> <setting>')
    .description('store a setting read from standard input (never from the command line, which shells keep in history)')
    .action(async (connector: string, setting: string) => {
      const { spec } = await loadSpecFile(specPath(connector));
      if (!spec.config?.properties[setting]) throw new Error(`${connector} has no setting "${setting}" (settings: ${Object.keys(spec.config?.properties ?? {}).join(', ')})`);
      const value = await readStdin();
      if (!value) throw new Error('no value on standard input');
      const stores = await openStores();
      let reauthenticated = false;
      try {
        reauthenticated = (await stores.store.needsReauth(connector)) !== undefined;
        // Storing it also lifts a pending "needs re-authentication" (see SecretStore.set).
        await new SecretStore(stores.store).set(connector, setting, value);
      } finally { await stores.close(); }
      process.stdout.write(`stored ${connector}.${setting}${reauthenticated ? ` (it no longer needs re-authentication: the scheduler runs ${connector} again)` : ''}\n`);
    });
  secrets
    .command('list [connector]')
    .description('names of stored settings (never their values)')
    .action(async (connector?: string) => {
      const stores = await openStores();
      try {
        for (const s of await new SecretStore(stores.store).names(connector)) process.stdout.write(`${s.connector}.${s.name}\t${s.updated_at}\n`);
      } finally { await stores.close(); }
    });
  secrets
    .command('delete <connector> <setting>')
    .action(async (connector: string, setting: string) => {
      const stores = await openStores();
      try {
        const gone = await new SecretStore(stores.store).delete(connector, setting);
        process.stdout.write(gone ? `deleted ${connector}.${setting}\n` : `no ${connector}.${setting}\n`);
        if (!gone) process.exitCode = 1;
      } finally { await stores.close(); }
    });
}
