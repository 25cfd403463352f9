// RFC 8288 Link header: `<url>; rel="next", <url2>; rel="last"` → the URL of a relation.
export function linkForRel(header: string | string[] | undefined, rel: string): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return undefined;
  const re = /<([^>]*)>\s*((?:;\s*[^;,]+(?:=(?:"[^"]*"|[^;,]*))?\s*)*)/g;
  for (const m of text.matchAll(re)) {
    const params = m[2];
    const relMatch = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(params);
    const rels = (relMatch?.[1] ?? relMatch?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes(rel.toLowerCase())) return m[1];
  }
  return undefined;
}
