// Every connector folder's contract: the engine, pointed at the connector's sandbox with --base-url semantics,
// produces exactly sandbox/expected.ndjson — once cleanly and once with a 429 and a 503 before every page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listConnectorIds } from '../engine/spec/registry.ts';
import { formatContractReport, runContractTest } from '../engine/sandbox/contract.ts';

const ids = listConnectorIds();

test('there are connectors to test', () => assert.ok(ids.length > 0));

for (const id of ids) {
  test(`connector ${id} matches its sandbox contract`, async () => {
    const report = await runContractTest(id);
    assert.ok(report.ok, formatContractReport(report));
    assert.ok(report.expectedCount > 0, `${id} has no expected offers`);
  });
}
