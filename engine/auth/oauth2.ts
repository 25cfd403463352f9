// OAuth2 token grants (client credentials by default, any grant_type with extra params): one token per
// connector, cached until shortly before expiry, refreshed once and shared when many requests hit 401 at once.
// A grant the token endpoint refuses for good (invalid_grant: a revoked or expired refresh token or
// authorization; invalid_client: a wrong or rotated client secret) ends the run at once: no retry can succeed
// until someone re-authenticates.
import type { AuthOAuth2 } from '../types/connector.generated.ts';
import { compileExpression, renderStringMap, renderValue, type Bindings } from '../expr/jsonata.ts';
import { parseDuration } from '../util/duration.ts';
import { HttpError, type AuthApplier, type HttpRequest, type HttpRuntime } from '../http/runtime.ts';
import type { Redactor } from '../log/redact.ts';

/** OAuth error codes (RFC 6749 5.2) that mean the stored credentials themselves are no longer accepted. */
export const REAUTH_ERROR_CODES: ReadonlySet<string> = new Set(['invalid_grant', 'invalid_client']);

export class ReauthRequiredError extends Error {
  constructor(readonly code: string, detail: string, connector?: string) {
    super(`the token endpoint refused the connector's credentials (${code}${detail ? `: ${detail}` : ''}); it needs re-authentication: `
      + `store new credentials with \`offerfeed secrets set ${connector ?? '<connector>'} <setting>\` (or update its environment), then run it again`);
    this.name = 'ReauthRequiredError';
  }
}

export class OAuth2Applier implements AuthApplier {
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  /** Set once the grant was refused for good: every later request fails with it, without asking again. */
  private refused: ReauthRequiredError | undefined;

  constructor(
    private readonly spec: AuthOAuth2,
    private readonly bindings: Bindings,
    private readonly runtime: HttpRuntime,
    private readonly redactor: Redactor,
    private readonly now: () => number = Date.now,
  ) {}

  async apply(req: HttpRequest): Promise<HttpRequest> {
    const token = await this.currentToken();
    if (this.spec.token_in === 'query') {
      const u = new URL(req.url);
      u.searchParams.set(this.spec.token_param ?? 'access_token', token);
      req.url = u.toString();
    } else req.headers[this.spec.header ?? 'Authorization'] = await this.headerValue(token);
    return req;
  }

  async refresh(failed: HttpRequest): Promise<boolean> {
    // Only the first request that saw 401 with the current token drops it; the rest wait for the new one.
    const used = this.spec.token_in === 'query'
      ? new URL(failed.url).searchParams.get(this.spec.token_param ?? 'access_token')
      : failed.headers[this.spec.header ?? 'Authorization'];
    if (this.token && (used === this.token.value || used === (await this.headerValue(this.token.value)))) this.token = undefined;
    await this.currentToken();
    return true;
  }

  async headerValue(token: string): Promise<string> {
    if (this.spec.header_value) return String(await renderValue(this.spec.header_value, { ...this.bindings, token }));
    return `${this.spec.prefix ?? 'Bearer '}${token}`;
  }

  private async currentToken(): Promise<string> {
    if (this.refused) throw this.refused;
    const margin = parseDuration(this.spec.refresh_margin, 60_000);
    if (this.token && this.now() < this.token.expiresAt - margin) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => { this.pending = undefined; });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const s = this.spec;
    const url = String(await renderValue(s.token_url, this.bindings));
    const clientId = s.client_id ? String(await renderValue(s.client_id, this.bindings) ?? '') : undefined;
    const clientSecret = s.client_secret ? String(await renderValue(s.client_secret, this.bindings) ?? '') : undefined;
    this.redactor.add(clientSecret);
    const fields: Record<string, string> = { grant_type: s.grant_type ?? 'client_credentials' };
    const scopes = typeof s.scopes === 'string' ? await renderValue(s.scopes, this.bindings) : s.scopes;
    if (Array.isArray(scopes) && scopes.length) fields.scope = scopes.join(' ');
    else if (typeof scopes === 'string' && scopes) fields.scope = scopes;
    Object.assign(fields, await renderStringMap(s.params, this.bindings));
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(await renderStringMap(s.headers, this.bindings)),
    };
    if ((s.client_auth ?? 'body') === 'header' && clientId !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret ?? ''}`).toString('base64')}`;
    } else {
      if (clientId !== undefined) fields.client_id = clientId;
      if (clientSecret !== undefined) fields.client_secret = clientSecret;
    }
    const format = String(await renderValue(s.body_format ?? 'form', this.bindings));
    if (format !== 'json' && format !== 'form') throw new Error(`auth.body_format must be "form" or "json", got "${format}"`);
    const json = format === 'json';
    headers['content-type'] = json ? 'application/json' : 'application/x-www-form-urlencoded';
    const body = json ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
    const response = await this.runtime.exchange({ method: 'POST', url, headers, body }, { purpose: 'token' }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(Buffer.from(c));
      const text = Buffer.concat(chunks).toString('utf8');
      try { return { result: JSON.parse(text) as unknown }; } catch { throw new Error(`token endpoint answered with a body that is not JSON (${text.length} bytes)`); }
    }, { auth: false }).catch((e: unknown) => {
      if (e instanceof HttpError && e.code && REAUTH_ERROR_CODES.has(e.code)) {
        // The runtime's message carries the endpoint's own description (already redacted); keep its tail.
        const detail = e.message.replace(/^authentication failed: /, '').replace(/^HTTP \d+ from \S+(?:: |$)/, '').replace(/\. Check the connector's credentials\.$/, '');
        this.refused = new ReauthRequiredError(e.code, detail === e.code ? '' : detail, this.runtime.opts.connectorId);
        throw this.refused;
      }
      throw e;
    });
    const value = await compileExpression(s.token_path ?? 'access_token').evaluate(response);
    if (typeof value !== 'string' || !value) throw new Error(`token endpoint response has no token at "${s.token_path ?? 'access_token'}"`);
    this.redactor.add(value);
    this.token = { value, expiresAt: await this.expiry(response) };
    return value;
  }

  private async expiry(response: unknown): Promise<number> {
    if (this.spec.expires_at_path) {
      const at = await compileExpression(this.spec.expires_at_path).evaluate(response);
      const n = typeof at === 'number' || /^\d+$/.test(String(at)) ? Number(at) : Date.parse(String(at));
      // Epoch seconds and milliseconds are told apart by magnitude.
      if (Number.isFinite(n)) return n < 1e12 ? n * 1000 : n;
    }
    const expiresIn = Number(await compileExpression(this.spec.expires_in_path ?? 'expires_in').evaluate(response));
    return this.now() + (expiresIn || (this.spec.default_expires_in ?? 3600)) * 1000;
  }
}
