import { XMLParser } from 'fast-xml-parser';
const N = 20000;
let s = '<w>';
for (let i = 0; i < N; i++) s += `<product id="${i}"><title>Product ${i}, deluxe</title><price currency="EUR">${(i % 1000) / 10}</price><url>https://example.com/p/${i}</url><description><![CDATA[A fine product number ${i} with "quotes"]]></description></product>\n`;
s += '</w>';
const variants: Record<string, object> = {
  default: {},
  attrs: { ignoreAttributes: false },
  attrsNoParse: { ignoreAttributes: false, parseTagValue: false },
  noEntities: { ignoreAttributes: false, parseTagValue: false, processEntities: false },
  jPathFalse: { ignoreAttributes: false, parseTagValue: false, processEntities: false, jPath: false },
  preserveOrder: { ignoreAttributes: false, parseTagValue: false, processEntities: false, preserveOrder: true },
};
for (const [k, o] of Object.entries(variants)) {
  const p = new XMLParser(o);
  p.parse(s);
  const t = performance.now(); for (let r = 0; r < 3; r++) p.parse(s); console.log(k, ((performance.now() - t) / 3).toFixed(0), 'ms per 20k');
}
