// Tells whether a connector's credentials changed since the network refused them, without storing them: a
// salted HMAC over the settings its auth uses (every x-secret setting and any setting the auth templates read).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConnectorSpec } from '../types/connector.generated.ts';
import type { ConfigValues } from '../spec/config.ts';
import { secretKeys } from '../spec/config.ts';

/** Settings that make up the connector's credentials. */
export function credentialKeys(spec: ConnectorSpec): string[] {
  const keys = new Set(secretKeys(spec));
  const auth = JSON.stringify([spec.auth, ...spec.streams.map((s) => s.auth)]);
  for (const m of auth.matchAll(/\$config\.([A-Za-z_][\w]*)/g)) keys.add(m[1]);
  return [...keys].sort();
}

const digest = (salt: Buffer, spec: ConnectorSpec, config: ConfigValues): Buffer =>
  createHmac('sha256', salt).update(JSON.stringify(credentialKeys(spec).map((k) => [k, config[k] ?? null]))).digest().subarray(0, 16);

/** "salt:mac", both hex; a fresh salt each time so equal credentials of two connectors never look alike. */
export function credentialFingerprint(spec: ConnectorSpec, config: ConfigValues): string {
  const salt = randomBytes(16);
  return `${salt.toString('hex')}:${digest(salt, spec, config).toString('hex')}`;
}

/** True when `config` holds the same credentials as when `fingerprint` was taken. */
export function sameCredentials(fingerprint: string | null | undefined, spec: ConnectorSpec, config: ConfigValues): boolean {
  const [salt, mac] = String(fingerprint ?? '').split(':');
  if (!salt || !mac || !/^[0-9a-f]+$/.test(salt + mac)) return false;
  const want = Buffer.from(mac, 'hex');
  const got = digest(Buffer.from(salt, 'hex'), spec, config);
  return want.length === got.length && timingSafeEqual(want, got);
}
