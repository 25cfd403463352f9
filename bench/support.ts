// Shared bench helpers: synthetic raw offers in a network's shape, timing, and peak RSS sampling.

export function rawOffer(i: number, variant = 0): Record<string, unknown> {
  return {
    id: i,
    sku: `SKU-${i.toString(36).toUpperCase()}`,
    name: `Product ${i} &amp; more — model ${variant}`,
    description: `<p>Great <b>product</b> number ${i}, with details that run for a while to be realistic.</p>`,
    price: { amount: `${(i % 500) + 19}.99`, currency: 'usd' },
    sale: i % 3 === 0 ? `$${(i % 500) + 9}.49` : null,
    links: { tracking: `https://track.example/c?id=${i}&aff=42`, product: `https://shop.example/p/${i}?utm_source=feed` },
    image: `//img.example/${i}.jpg`,
    merchant: { id: 1000 + (i % 50), name: `Merchant ${i % 50}` },
    category_path: ['Home', 'Kitchen', i % 2 ? 'Kettles' : 'Mugs'],
    countries: ['US', 'CA'],
    lang: 'en_US',
    updated: '2026-11-01 10:00:00',
    ends: i % 10 === 0 ? '2027-01-31' : null,
    commission: { rate: '7.5%' },
  };
}

export const MAPPING = `{
  "external_id": $string(id),
  "title": name,
  "description": description,
  "url": links.tracking,
  "landing_url": links.product,
  "image_url": image,
  "merchant_id": $string(merchant.id),
  "merchant_name": merchant.name,
  "price": price.amount,
  "sale_price": sale,
  "currency": price.currency,
  "categories": [$join(category_path, " > ")],
  "countries": countries,
  "languages": [lang],
  "expires_at": ends,
  "payout": { "type": "cps", "percent": commission.rate }
}`;

export function handMapped(r: any): Record<string, unknown> {
  return {
    external_id: String(r.id), title: r.name, description: r.description, url: r.links.tracking, landing_url: r.links.product,
    image_url: r.image, merchant_id: String(r.merchant.id), merchant_name: r.merchant.name, price: r.price.amount,
    sale_price: r.sale ?? undefined, currency: r.price.currency, categories: [r.category_path.join(' > ')], countries: r.countries,
    languages: [r.lang], expires_at: r.ends ?? undefined, payout: { type: 'cps', percent: r.commission.rate },
  };
}

export class PeakRss {
  peak = process.memoryUsage().rss;
  private readonly timer = setInterval(() => { this.peak = Math.max(this.peak, process.memoryUsage().rss); }, 50);
  stop(): number { clearInterval(this.timer); this.peak = Math.max(this.peak, process.memoryUsage().rss); return this.peak; }
}

export const mib = (b: number) => `${Math.round(b / 1048576)} MiB`;
export const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

export function report(title: string, rows: Array<Record<string, string | number>>): void {
  console.log(`\n## ${title}`);
  console.table(rows);
}
