// The TypeScript types are generated from the JSON Schemas; this fails when someone edits one without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { generatedTypes, renderTypes } from '../scripts/gen-types.ts';

for (const t of generatedTypes) {
  test(`${t.out} is up to date with ${t.schema}`, async () => {
    const current = await readFile(new URL(`../${t.out}`, import.meta.url), 'utf8');
    assert.equal(current, await renderTypes(t.schema, t.name), `run \`npm run gen:types\``);
  });
}
