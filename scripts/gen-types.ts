// Regenerates the TypeScript types from the JSON Schemas in schema/ (the single source of truth).
// `--check` exits non-zero when a generated file is stale, without writing.
import { readFile, writeFile } from 'node:fs/promises';
import { compile } from 'json-schema-to-typescript';

const root = new URL('..', import.meta.url);
export const generatedTypes = [
  { schema: 'schema/connector.schema.json', out: 'engine/types/connector.generated.ts', name: 'ConnectorSpec' },
  { schema: 'schema/offer.schema.json', out: 'engine/types/offer.generated.ts', name: 'Offer' },
];

export async function renderTypes(schemaPath: string, name: string): Promise<string> {
  const schema = JSON.parse(await readFile(new URL(schemaPath, root), 'utf8'));
  return compile(schema, name, {
    bannerComment: `/* Generated from ${schemaPath} by scripts/gen-types.ts; do not edit. Run \`npm run gen:types\`. */`,
    additionalProperties: false,
    style: { singleQuote: true },
    unreachableDefinitions: true,
  });
}

async function main(check: boolean): Promise<void> {
  let stale = 0;
  for (const t of generatedTypes) {
    const text = await renderTypes(t.schema, t.name);
    const current = await readFile(new URL(t.out, root), 'utf8').catch(() => '');
    if (current === text) continue;
    if (check) { stale++; console.error(`${t.out} is stale: run npm run gen:types`); }
    else { await writeFile(new URL(t.out, root), text); console.log(`wrote ${t.out}`); }
  }
  if (stale) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.includes('--check'));
