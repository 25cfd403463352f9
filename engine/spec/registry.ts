// Where connectors live: connectors/<id>/connector.yaml under the project (or OFFERFEED_CONNECTORS_DIR);
// a path to a spec file or folder works too, for connectors kept elsewhere.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export function connectorsDir(): string {
  return resolve(process.env.OFFERFEED_CONNECTORS_DIR ?? join(projectRoot, 'connectors'));
}

export function specPath(idOrPath: string): string {
  if (idOrPath.endsWith('.yaml') || idOrPath.endsWith('.yml')) return resolve(idOrPath);
  if (idOrPath.includes('/') && existsSync(idOrPath) && statSync(idOrPath).isDirectory()) return resolve(idOrPath, 'connector.yaml');
  const p = join(connectorsDir(), idOrPath, 'connector.yaml');
  if (!existsSync(p)) {
    throw new Error(`unknown connector "${idOrPath}": no ${p} (known: ${listConnectorIds().join(', ') || 'none'})`);
  }
  return p;
}

export function listConnectorIds(dir = connectorsDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'connector.yaml'))).sort();
}
