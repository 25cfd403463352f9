import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@clickhouse/client';
import { requireClickHouse } from './clickhouse.ts';

test('the ClickHouse of this test run answers queries', async (t) => {
  const url = requireClickHouse(t);
  if (!url) return;
  const client = createClient({ url });
  try {
    const rs = await client.query({ query: 'SELECT 1 + 1 AS two', format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [{ two: 2 }]);
  } finally {
    await client.close();
  }
});
