// Builds the request authenticator a spec's `auth` describes. Static kinds (api key, basic, bearer) are
// rendered once per run; OAuth2, SigV4 and signatures work per request.
import type { Auth } from '../types/connector.generated.ts';
import { renderValue, type Bindings } from '../expr/jsonata.ts';
import type { AuthApplier, HttpRequest, HttpRuntime } from '../http/runtime.ts';
import type { Redactor } from '../log/redact.ts';
import { OAuth2Applier } from './oauth2.ts';
import { SignatureApplier } from './signature.ts';
import { signSigV4 } from './sigv4.ts';

const str = async (v: string | undefined, b: Bindings) => (v === undefined ? '' : String((await renderValue(v, b)) ?? ''));

export async function createAuth(auth: Auth | undefined, bindings: Bindings, runtime: HttpRuntime, redactor: Redactor): Promise<AuthApplier | undefined> {
  if (!auth || auth.type === 'none') return undefined;
  switch (auth.type) {
    case 'api_key': {
      const value = await str(auth.value, bindings);
      redactor.add(value);
      return staticApplier((req) => {
        if (auth.in === 'header') req.headers[auth.name] = value;
        else { const u = new URL(req.url); u.searchParams.set(auth.name, value); req.url = u.toString(); }
      });
    }
    case 'basic': {
      const user = await str(auth.username, bindings);
      const pass = await str(auth.password, bindings);
      redactor.add(pass);
      const header = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      redactor.add(header.slice(6));
      return staticApplier((req) => { req.headers.authorization = header; });
    }
    case 'bearer': {
      const token = await str(auth.token, bindings);
      redactor.add(token);
      return staticApplier((req) => { req.headers[auth.header ?? 'Authorization'] = `${auth.prefix ?? 'Bearer '}${token}`; });
    }
    case 'oauth2':
      return new OAuth2Applier(auth, bindings, runtime, redactor);
    case 'aws_sigv4': {
      const creds = {
        accessKeyId: await str(auth.access_key_id, bindings),
        secretAccessKey: await str(auth.secret_access_key, bindings),
        sessionToken: auth.session_token ? await str(auth.session_token, bindings) : undefined,
        region: await str(auth.region, bindings),
        service: await str(auth.service, bindings),
      };
      redactor.add(creds.secretAccessKey);
      redactor.add(creds.sessionToken);
      const applier = staticApplier((req) => {
        // SigV4 signs the host actually contacted, so sign after --base-url is applied; with the server's time,
        // as AWS refuses a signature more than 5 minutes away from its clock.
        const url = runtime.resolveUrl(req.url);
        Object.assign(req.headers, signSigV4({ method: req.method, url, headers: req.headers, body: req.body }, creds, runtime.serverNow(url), { contentSha256Header: auth.content_sha256_header }));
      });
      return { ...applier, signsTime: true };
    }
    case 'signature':
      return new SignatureApplier(auth, bindings, (url) => runtime.serverNow(url));
  }
}

function staticApplier(mutate: (req: HttpRequest) => void): AuthApplier {
  return {
    async apply(req) { mutate(req); return req; },
    async refresh() { return false; },
  };
}
