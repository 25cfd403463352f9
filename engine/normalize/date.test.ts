import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toUtcIso } from './date.ts';

const cases: [unknown, string][] = [
  // Dates and epochs
  [new Date(Date.UTC(2025, 0, 2, 10, 0, 0)), '2025-01-02T10:00:00.000Z'],
  [1735812000, '2025-01-02T10:00:00.000Z'],
  [1735812000.5, '2025-01-02T10:00:00.500Z'],
  [1735812000000, '2025-01-02T10:00:00.000Z'],
  ['1735812000', '2025-01-02T10:00:00.000Z'],
  ['1735812000000', '2025-01-02T10:00:00.000Z'],
  [1735812000000000, '2025-01-02T10:00:00.000Z'], // microseconds
  // ISO 8601 with and without zone (none = UTC)
  ['2025-01-02T10:00:00Z', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02t10:00:00z', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02T10:00:00.123Z', '2025-01-02T10:00:00.123Z'],
  ['2025-01-02T10:00:00.123456789Z', '2025-01-02T10:00:00.123Z'],
  ['2025-01-02T10:00:00.5+00:00', '2025-01-02T10:00:00.500Z'],
  ['2025-01-02T10:00:00+02:00', '2025-01-02T08:00:00.000Z'],
  ['2025-01-02T10:00:00+0200', '2025-01-02T08:00:00.000Z'],
  ['2025-01-02T10:00:00+02', '2025-01-02T08:00:00.000Z'],
  ['2025-01-02T10:00:00-05:00', '2025-01-02T15:00:00.000Z'],
  ['2025-01-02T10:00:00+05:30', '2025-01-02T04:30:00.000Z'],
  ['2025-01-01T01:00:00+02:00', '2024-12-31T23:00:00.000Z'],
  ['2025-01-02T10:00:00', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02T10:00', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02 10:00:00', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02 10:00:00 UTC', '2025-01-02T10:00:00.000Z'],
  ['2025-01-02 10:00:00.000000 -0700', '2025-01-02T17:00:00.000Z'],
  ['2025-01-02', '2025-01-02T00:00:00.000Z'],
  ['2025/06/30', '2025-06-30T00:00:00.000Z'],
  ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ['  2025-06-30T23:59:59Z  ', '2025-06-30T23:59:59.000Z'],
  ['2016-12-31T23:59:60Z', '2016-12-31T23:59:59.000Z'], // leap second
  // Compact
  ['20250102', '2025-01-02T00:00:00.000Z'],
  ['20250102103000', '2025-01-02T10:30:00.000Z'],
  // RFC 2822 and other month-name forms
  ['Tue, 03 Jun 2025 10:00:00 GMT', '2025-06-03T10:00:00.000Z'],
  ['Tue, 3 Jun 2025 10:00:00 +0200', '2025-06-03T08:00:00.000Z'],
  ['03 Jun 25 10:00 EST', '2025-06-03T15:00:00.000Z'],
  ['Tue, 03 Jun 2025 10:00:00 PDT', '2025-06-03T17:00:00.000Z'],
  ['Wed, 01 Jan 2025 00:30:00 CET', '2024-12-31T23:30:00.000Z'],
  ['June 30, 2025', '2025-06-30T00:00:00.000Z'],
  ['Jun 30, 2025 10:30 PM', '2025-06-30T22:30:00.000Z'],
  ['30 June 2025', '2025-06-30T00:00:00.000Z'],
  ['30-Jun-2025', '2025-06-30T00:00:00.000Z'],
  ['1st July 2025', '2025-07-01T00:00:00.000Z'],
  ['Sept. 5, 2025', '2025-09-05T00:00:00.000Z'],
  ['Monday, July 7th, 2025 at 5:00pm PDT', '2025-07-08T00:00:00.000Z'],
  ['Tue Jun 03 2025 10:00:00 GMT+0200 (Central European Summer Time)', '2025-06-03T08:00:00.000Z'],
  ['Jun 30 2025 10:00:00 GMT-0500', '2025-06-30T15:00:00.000Z'],
  // Numeric day/month forms
  ['06/30/2025', '2025-06-30T00:00:00.000Z'],
  ['6/3/2025', '2025-06-03T00:00:00.000Z'], // US: month first when ambiguous
  ['30/06/2025', '2025-06-30T00:00:00.000Z'], // day first when the first number cannot be a month
  ['12/31/2025 11:59:59 PM', '2025-12-31T23:59:59.000Z'],
  ['06/30/2025 12:15 AM', '2025-06-30T00:15:00.000Z'],
  ['06/30/2025 10:00:00 +02:00', '2025-06-30T08:00:00.000Z'],
  ['30.06.2025', '2025-06-30T00:00:00.000Z'], // German
  ['03.06.2025', '2025-06-03T00:00:00.000Z'],
  ['31.12.2025 23:59', '2025-12-31T23:59:00.000Z'],
  ['06-30-2025', '2025-06-30T00:00:00.000Z'],
  ['06/30/25', '2025-06-30T00:00:00.000Z'],
];

test('toUtcIso converts every supported format to ISO 8601 UTC', () => {
  for (const [input, expected] of cases) assert.equal(toUtcIso(input), expected, JSON.stringify(input));
});

test('toUtcIso output does not depend on the process time zone', () => {
  // Node applies a TZ change at run time; nothing may go through local-time parsing (Date.parse, new Date(string)).
  const saved = process.env.TZ;
  try {
    for (const tz of ['Pacific/Kiritimati', 'America/Los_Angeles']) {
      process.env.TZ = tz;
      for (const [input, expected] of cases) assert.equal(toUtcIso(input), expected, `${tz} ${JSON.stringify(input)}`);
    }
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('toUtcIso returns undefined for impossible dates and garbage', () => {
  for (const v of ['2025-02-29', '2025-02-30', '2025-13-01', '2025-06-31', 'June 31, 2025', '2025-06-30T24:00:00Z',
    '2025-06-30T10:61:00Z', '13/13/2025', 'abc', 'next week', 'Jun 2025', '2025-06-30T10:00:00+25:00',
    '2025-06-30 10:00 XYZ', {}, [], true, Number.NaN, Number.POSITIVE_INFINITY, new Date('nope'), 1e22]) {
    assert.equal(toUtcIso(v), undefined, String(v));
  }
});

test('toUtcIso treats "no date" markers as absent', () => {
  for (const v of [0, '0', '', '  ', '0000-00-00', '0000-00-00 00:00:00', 'null', 'N/A', 'never', null, undefined]) {
    assert.equal(toUtcIso(v), undefined, String(v));
  }
});
