// Login (sets the session cookie), logout, and who am I.
import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../../engine/admin/auth.ts';
import type { AdminContext } from '../context.ts';
import { AdminApiError } from '../context.ts';
import { SESSION_COOKIE, credentialOf } from '../guard.ts';

export default async function sessionRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  app.post<{ Body: { name: string; password: string } }>('/login', {
    // Stricter than the API's general limit: password guessing is slowed here as well as by the account lockout.
    config: { rateLimit: { max: 20, timeWindow: 60_000 } },
    schema: { body: { type: 'object', required: ['name', 'password'], additionalProperties: false, properties: { name: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 1024 } } } },
  }, async (req, reply) => {
    try {
      const r = await ctx.host.auth.login(req.body.name, req.body.password);
      await ctx.host.auth.audit(r.principal, 'login', null, 'ok');
      reply.setCookie(SESSION_COOKIE, r.sessionId, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: ctx.secureCookie, expires: new Date(r.expiresAt) });
      return { user: r.principal.user, role: r.principal.role, expires_at: r.expiresAt };
    } catch (e) {
      if (e instanceof AuthError) {
        await ctx.host.auth.audit({ user: req.body.name.slice(0, 64), via: 'session', role: 'viewer' }, 'login', null, 'denied');
        throw new AdminApiError(401, e.message, 'unauthorized');
      }
      throw e;
    }
  });

  app.post('/logout', async (req, reply) => {
    const cred = credentialOf(req);
    if (cred?.via === 'cookie') await ctx.host.auth.logout(cred.value);
    reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
    return reply.status(204).send();
  });

  app.get('/me', async (req) => ({ user: req.principal!.user, role: req.principal!.role, via: req.principal!.via }));
}
