// A synthetic network for the sync benchmark, in its own process so its memory is not counted as ours:
// GET /items?page=N returns 5,000 raw offers per page as JSON, N total (FEED_SIZE), deterministic.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawOffer } from './support.ts';

const total = Number(process.env.FEED_SIZE ?? 1_000_000);
const pageSize = 5000;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const page = Number(url.searchParams.get('page') ?? 1);
  const from = (page - 1) * pageSize;
  const items = [];
  for (let i = from; i < Math.min(total, from + pageSize); i++) items.push(rawOffer(i));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ items, more: from + pageSize < total }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
