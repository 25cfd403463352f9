// Alert delivery: webhooks (POST JSON, body signed with HMAC-SHA256 in X-OfferFeed-Signature, sent through the
// SSRF guard because webhook URLs are admin-supplied) and e-mail over SMTP (nodemailer). Destinations come from
// the environment (operator) and from alert_channels (admins, each webhook with its own signing secret kept in
// the secret store).
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createTransport } from 'nodemailer';
import type { AdminStore, AlertRow } from '../store/admin-store.ts';
import type { SecretStore } from '../store/secrets.ts';
import { checkUrl, guardedFetch, policyFromEnv, SsrfError, type NetworkPolicy } from '../wizard/ssrf.ts';

export interface PublicAlert {
  id: number; key: string; connector: string | null; kind: string; severity: string; message: string; details: unknown;
  first_seen_at: string; last_seen_at: string; resolved_at: string | null; resolved_by: string | null;
}

export interface AlertMessage {
  type: 'alert.raised' | 'alert.resolved';
  alert: PublicAlert;
  /** Where an operator sees it (OFFERFEED_PUBLIC_URL + /admin/offers-feed). */
  dashboard_url?: string;
  sent_at: string;
}

export interface Delivery { channel: 'webhook' | 'email'; target: string; ok: boolean; status?: number; attempts: number; error?: string }

export interface WebhookTarget { id: string; url: string; secret: string }

export interface NotifierConfig {
  webhooks?: WebhookTarget[];
  /** SMTP delivery: a connection URL (smtp://user:pass@host:587, smtps://…) or nodemailer transport options. */
  email?: { transport: string | Record<string, unknown>; from: string; to: string[] };
  /** Allow-list for webhook URLs on internal addresses (default OFFERFEED_ALERT_ALLOW_HOSTS / _ALLOW_CIDRS). */
  policy?: NetworkPolicy;
  dashboardUrl?: string;
  /** Attempts per webhook (default 3) and the first retry delay (default 500 ms, doubling). */
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = 'x-offerfeed-signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp in the MAC stops replays of old deliveries. */
export function signPayload(body: string, secret: string, now = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): checks the signature in constant time and the timestamp within a tolerance. */
export function verifyPayload(body: string, header: string | undefined, secret: string, toleranceSec = 300, now = new Date()): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(now.getTime() / 1000 - t) > toleranceSec) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return want.length === got.length && timingSafeEqual(want, got);
}

export const publicAlert = (a: AlertRow): PublicAlert => ({
  id: a.id, key: a.key, connector: a.connector, kind: a.kind, severity: a.severity, message: a.message, details: a.details,
  first_seen_at: a.first_seen_at, last_seen_at: a.last_seen_at, resolved_at: a.resolved_at, resolved_by: a.resolved_by,
});

const maskUrl = (u: string) => { try { const x = new URL(u); return `${x.origin}${x.pathname}`; } catch { return '(invalid url)'; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AlertNotifier {
  private readonly mailer?: ReturnType<typeof createTransport>;

  constructor(readonly config: NotifierConfig) {
    if (config.email?.to.length) this.mailer = createTransport(config.email.transport as never);
  }

  /** True when at least one destination is configured. */
  get configured(): boolean {
    return (this.config.webhooks?.length ?? 0) > 0 || !!this.mailer;
  }

  async notify(msg: AlertMessage): Promise<Delivery[]> {
    const jobs: Array<Promise<Delivery>> = (this.config.webhooks ?? []).map((w) => this.webhook(w, msg));
    if (this.mailer) jobs.push(this.email(msg));
    return Promise.all(jobs);
  }

  close(): void {
    this.mailer?.close();
  }

  private async webhook(w: WebhookTarget, msg: AlertMessage): Promise<Delivery> {
    const body = JSON.stringify(msg);
    const attempts = this.config.attempts ?? 3;
    const base: Delivery = { channel: 'webhook', target: maskUrl(w.url), ok: false, attempts: 0 };
    for (let i = 1; i <= attempts; i++) {
      base.attempts = i;
      try {
        const res = await guardedFetch({
          method: 'POST', url: w.url, body,
          headers: {
            'content-type': 'application/json', 'user-agent': 'OfferFeed-Alerts/1', 'x-offerfeed-event': msg.type,
            'x-offerfeed-delivery': randomUUID(), [SIGNATURE_HEADER]: signPayload(body, w.secret),
          },
        }, { policy: this.config.policy ?? policyFromEnv('OFFERFEED_ALERT'), timeoutMs: this.config.timeoutMs ?? 10_000, maxBytes: 65_536, maxRedirects: 0 });
        base.status = res.status;
        if (res.status >= 200 && res.status < 300) return { ...base, ok: true, error: undefined };
        base.error = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429) return base;
      } catch (e) {
        base.error = (e as Error).message;
        if (e instanceof SsrfError) return base;
      }
      if (i < attempts) await sleep((this.config.retryDelayMs ?? 500) * 2 ** (i - 1));
    }
    return base;
  }

  private async email(msg: AlertMessage): Promise<Delivery> {
    const e = this.config.email!;
    const a = msg.alert;
    const state = msg.type === 'alert.raised' ? 'ALERT' : 'RESOLVED';
    const lines = [
      `${state}: ${a.message}`,
      '',
      `Connector: ${a.connector ?? '-'}`,
      `Problem:   ${a.kind} (${a.severity})`,
      `Since:     ${a.first_seen_at}`,
      ...(a.resolved_at ? [`Resolved:  ${a.resolved_at} (${a.resolved_by ?? 'system'})`] : []),
      ...(msg.dashboard_url ? ['', `Dashboard: ${msg.dashboard_url}`] : []),
      '',
      'Details:',
      JSON.stringify(a.details ?? {}, null, 2),
    ];
    try {
      await this.mailer!.sendMail({
        from: e.from, to: e.to, subject: `[OfferFeed] ${state} ${a.connector ?? '-'}: ${a.kind} - ${a.message}`.slice(0, 200), text: lines.join('\n'),
        headers: { 'X-OfferFeed-Alert': a.key },
      });
      return { channel: 'email', target: e.to.join(', '), ok: true, attempts: 1 };
    } catch (err) {
      return { channel: 'email', target: e.to.join(', '), ok: false, attempts: 1, error: (err as Error).message };
    }
  }
}

// ---- configuration ----------------------------------------------------------------------------------------

const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const SECRET_NAMESPACE = '_alerts';

/**
 * Destinations from the environment — OFFERFEED_ALERT_WEBHOOKS (URLs) signed with OFFERFEED_ALERT_WEBHOOK_SECRET,
 * OFFERFEED_SMTP_URL with OFFERFEED_ALERT_EMAIL_FROM / OFFERFEED_ALERT_EMAIL_TO — plus the admins' alert channels.
 */
export async function notifierFromSettings(admin?: AdminStore, secrets?: SecretStore, env: NodeJS.ProcessEnv = process.env): Promise<AlertNotifier> {
  const webhooks: WebhookTarget[] = [];
  const envHooks = list(env.OFFERFEED_ALERT_WEBHOOKS);
  if (envHooks.length && !env.OFFERFEED_ALERT_WEBHOOK_SECRET) throw new Error('OFFERFEED_ALERT_WEBHOOKS is set but OFFERFEED_ALERT_WEBHOOK_SECRET is not: webhook deliveries are always signed');
  envHooks.forEach((url, i) => webhooks.push({ id: `env-${i + 1}`, url, secret: env.OFFERFEED_ALERT_WEBHOOK_SECRET! }));
  const to = list(env.OFFERFEED_ALERT_EMAIL_TO);
  for (const c of admin ? await admin.listChannels() : []) {
    if (!c.enabled) continue;
    if (c.kind === 'email') to.push(...list(c.target));
    else if (secrets) {
      const secret = (await secrets.getAll(SECRET_NAMESPACE))[`webhook-${c.id}`];
      if (secret) webhooks.push({ id: c.id, url: c.target, secret });
    }
  }
  const smtp = env.OFFERFEED_SMTP_URL;
  const dashboard = env.OFFERFEED_PUBLIC_URL ? `${env.OFFERFEED_PUBLIC_URL.replace(/\/+$/, '')}/admin/offers-feed` : undefined;
  return new AlertNotifier({
    webhooks,
    email: smtp && to.length ? { transport: smtp, from: env.OFFERFEED_ALERT_EMAIL_FROM ?? 'OfferFeed <offerfeed@localhost>', to: [...new Set(to)] } : undefined,
    dashboardUrl: dashboard,
  });
}

const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/** Adds a webhook destination; its signing secret is returned once and kept encrypted in the secret store. */
export async function addWebhookChannel(admin: AdminStore, secrets: SecretStore, url: string, by: string): Promise<{ id: string; secret: string }> {
  checkUrl(url);
  const id = randomUUID().slice(0, 8);
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  await secrets.set(SECRET_NAMESPACE, `webhook-${id}`, secret);
  await admin.insertChannel({ id, kind: 'webhook', target: url, created_by: by });
  return { id, secret };
}

export async function addEmailChannel(admin: AdminStore, to: string[], by: string): Promise<{ id: string }> {
  const bad = to.filter((a) => !EMAIL.test(a));
  if (!to.length || bad.length) throw new Error(`not e-mail addresses: ${bad.join(', ') || '(none given)'}`);
  const id = randomUUID().slice(0, 8);
  await admin.insertChannel({ id, kind: 'email', target: to.join(','), created_by: by });
  return { id };
}

export async function removeChannel(admin: AdminStore, secrets: SecretStore | undefined, id: string): Promise<void> {
  await admin.deleteChannel(id);
  await secrets?.delete(SECRET_NAMESPACE, `webhook-${id}`);
}
