// Who is calling the admin API, and whether the call may come from where it comes from. The credential is the
// session cookie set at login or an API token (Authorization: Bearer). Requests from another site are refused
// outright (a foreign Origin), and a state-changing request made with the cookie must carry a custom header that a
// foreign page cannot add without a CORS preflight, which the admin API never grants.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Action, Principal } from '../../engine/admin/auth.ts';
import type { AdminContext } from './context.ts';
import { AdminApiError } from './context.ts';

export const SESSION_COOKIE = 'offerfeed_admin';
export const CSRF_HEADER = 'x-offerfeed-admin';

declare module 'fastify' {
  interface FastifyRequest { principal: Principal | null }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The session id from the cookie, or the bearer token. */
export function credentialOf(req: FastifyRequest): { value: string; via: 'cookie' | 'bearer' } | undefined {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return { value: auth, via: 'bearer' };
  const cookie = req.cookies?.[SESSION_COOKIE];
  return cookie ? { value: cookie, via: 'cookie' } : undefined;
}

/** onRequest hook for every /admin/api route: origin check, authentication, CSRF header for cookie writes. */
export function guard(ctx: AdminContext, publicPaths: Set<string>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    req.principal = null;
    // The admin API is for the admin UI of this origin (and for scripts with tokens, which send no Origin).
    reply.header('cache-control', 'no-store');
    if (!sameOrigin(req)) throw new AdminApiError(403, 'the admin API does not accept requests from another origin', 'forbidden');
    const cred = credentialOf(req);
    if (cred?.via === 'cookie' && !SAFE.has(req.method) && req.headers[CSRF_HEADER] !== '1') {
      throw new AdminApiError(403, `a request that changes something must carry the ${CSRF_HEADER} header`, 'forbidden');
    }
    req.principal = cred ? await ctx.host.auth.authenticate(cred.value) : null;
    if (!req.principal && !publicPaths.has(req.routeOptions.url ?? '')) {
      if (cred?.via === 'cookie') reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
      throw new AdminApiError(401, cred ? 'the session or token is invalid or expired; log in again' : 'authentication required', 'unauthorized');
    }
  };
}

/** Authorizes, runs and audits an action as the request's principal (the engine's AdminAuth.perform). */
export function perform<T>(ctx: AdminContext, req: FastifyRequest, action: Action, target: string | null, fn: () => Promise<T>, details?: Record<string, unknown>): Promise<T> {
  return ctx.host.auth.perform(req.principal, action, target, fn, details);
}
