// Admin authentication and authorization: users with a role (admin | viewer) and a scrypt-hashed password,
// API tokens and UI sessions kept only as SHA-256 hashes, a fixed role → action table, and an audit entry for
// every admin action, allowed, denied or failed. The admin API authenticates each request with `authenticate`
// and runs each action through `perform`, which authorizes, runs and audits in one place.
import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Redactor } from '../log/redact.ts';
import { ROLES, type AdminStore, type AuditEntry, type PublicToken, type PublicUser, type Role } from '../store/admin-store.ts';

export type { Role } from '../store/admin-store.ts';
export { ROLES } from '../store/admin-store.ts';

/** Everything the admin API can do. Reads are open to viewers; every other action needs the admin role. */
export const ADMIN_ACTIONS = [
  'sync', 'resync', 'rollback', 'cancel', 'pause', 'resume', 'schedule.change', 'spec.change', 'secret.change',
  'wizard.fetch', 'wizard.save', 'selftest', 'alert.resolve', 'alert.channel', 'offer.hide', 'offer.pin', 'review.decide', 'enrich.run',
  'user.manage', 'token.manage',
] as const;
export const READ_ACTIONS = ['read', 'audit.read'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];
export type Action = AdminAction | (typeof READ_ACTIONS)[number];

const PERMISSIONS: Record<Role, ReadonlySet<string>> = {
  admin: new Set<string>([...ADMIN_ACTIONS, ...READ_ACTIONS]),
  viewer: new Set<string>(READ_ACTIONS),
};

/** Whether a role may perform an action. Unknown roles and actions are denied. */
export function authorize(role: string | undefined, action: string): boolean {
  return role !== undefined && Object.hasOwn(PERMISSIONS, role) && PERMISSIONS[role as Role].has(action);
}

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

/** Who is acting: a logged-in user, an API token, the command line, or the system itself (scheduler, health). */
export interface Principal {
  user: string;
  role: Role;
  via: 'session' | 'token' | 'cli' | 'system';
  userId?: string;
  tokenId?: string;
  /** Sessions and expiring tokens: when the credential stops working. */
  expiresAt?: string;
}

export const systemPrincipal = (name = 'system'): Principal => ({ user: name, role: 'admin', via: 'system' });
export const cliPrincipal = (name = process.env.USER ?? safeUserName()): Principal => ({ user: `cli:${name}`, role: 'admin', via: 'cli' });

function safeUserName(): string {
  try { return userInfo().username; } catch { return 'unknown'; }
}

export class AuthError extends Error {
  readonly status = 401;
  constructor(message = 'authentication required') { super(message); this.name = 'AuthError'; }
}

export class ForbiddenError extends Error {
  readonly status = 403;
  constructor(readonly role: string, readonly action: string) {
    super(`the ${role} role may not perform "${action}"`);
    this.name = 'ForbiddenError';
  }
}

// ---- password hashing (scrypt) -----------------------------------------------------------------------------

const SCRYPT = { N: 65_536, r: 8, p: 1, keylen: 32 };
const MAX_N = 1 << 20;

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password.normalize('NFKC'), salt, keylen, opts, (e, key) => (e ? reject(e) : resolve(key))));

/** `scrypt$N$r$p$salt$hash` (base64url): the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 256 * SCRYPT.N * SCRYPT.r });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  const N = Number(n), R = Number(r), P = Number(p);
  // A tampered row must not make a login allocate gigabytes.
  if (alg !== 'scrypt' || !salt || !hash || !(N >= 2 && N <= MAX_N && (N & (N - 1)) === 0) || !(R >= 1 && R <= 32) || !(P >= 1 && P <= 16)) return false;
  const want = Buffer.from(hash, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), want.length, { N, r: R, p: P, maxmem: 256 * N * R });
  return got.length === want.length && timingSafeEqual(got, want);
}

export const MIN_PASSWORD_LENGTH = 10;

export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) throw new Error('the password is longer than 1024 characters');
}

// ---- tokens and sessions ---------------------------------------------------------------------------------

const TOKEN_PREFIX = 'oft_';
const SESSION_PREFIX = 'ofs_';
export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const secretId = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface AuthOptions {
  /** Absolute session lifetime (default 12 h). */
  sessionTtlMs?: number;
  /** A session unused this long ends (default 2 h). */
  sessionIdleMs?: number;
  /** Consecutive failed logins that lock an account (default 10) and for how long (default 15 min). */
  lockAfter?: number;
  lockMs?: number;
  /** Removes secrets from audit details and error messages. */
  redactor?: Redactor;
  now?: () => Date;
}

export interface LoginResult { sessionId: string; expiresAt: string; principal: Principal }
export interface CreatedToken { id: string; token: string; name: string; role: Role; expiresAt: string | null }

// Last-used timestamps are written at most this often, so authenticating is not a write per request.
const TOUCH_EVERY_MS = 60_000;

export class AdminAuth {
  private readonly ttl: number;
  private readonly idle: number;
  private readonly lockAfter: number;
  private readonly lockMs: number;
  private readonly now: () => Date;
  private dummyHash: Promise<string> | undefined;

  constructor(readonly store: AdminStore, private readonly opts: AuthOptions = {}) {
    this.ttl = opts.sessionTtlMs ?? 12 * 3_600_000;
    this.idle = opts.sessionIdleMs ?? 2 * 3_600_000;
    this.lockAfter = opts.lockAfter ?? 10;
    this.lockMs = opts.lockMs ?? 15 * 60_000;
    this.now = opts.now ?? (() => new Date());
  }

  // ---- users ----

  async createUser(name: string, password: string, role: Role): Promise<PublicUser> {
    if (!NAME_RE.test(name)) throw new Error('a user name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
    if (!isRole(role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
    checkPasswordPolicy(password);
    const id = randomUUID();
    await this.store.insertUser({ id, name, role, password_hash: await hashPassword(password) }, this.now());
    const { password_hash: _, ...user } = (await this.store.userById(id))!;
    return user;
  }

  listUsers(): Promise<PublicUser[]> { return this.store.listUsers(); }

  async setPassword(userId: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    if (!(await this.store.updateUser(userId, { password_hash: await hashPassword(password) }, this.now()))) throw new Error(`no user ${userId}`);
    // A new password ends every session opened with the old one.
    await this.store.revokeUserSessions(userId, this.now());
  }

  async setRole(userId: string, role: Role): Promise<void> {
    if (!isRole(role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
    await this.keepOneAdmin(userId, role !== 'admin');
    if (!(await this.store.updateUser(userId, { role }, this.now()))) throw new Error(`no user ${userId}`);
  }

  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await this.keepOneAdmin(userId, disabled);
    if (!(await this.store.updateUser(userId, { disabled }, this.now()))) throw new Error(`no user ${userId}`);
    if (disabled) await this.store.revokeUserSessions(userId, this.now());
  }

  /** The last active admin cannot be demoted or disabled: nobody could administer the feed afterwards. */
  private async keepOneAdmin(userId: string, removing: boolean): Promise<void> {
    if (!removing) return;
    const u = await this.store.userById(userId);
    if (u?.role === 'admin' && !u.disabled && (await this.store.countAdmins()) <= 1) throw new Error('this is the last active admin; create another admin first');
  }

  // ---- tokens ----

  /** A new API token; the token text is returned here once and never stored. */
  async createToken(name: string, role: Role, o: { createdBy: string; userId?: string; expiresAt?: Date } = { createdBy: 'cli' }): Promise<CreatedToken> {
    if (!NAME_RE.test(name)) throw new Error('a token name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
    if (!isRole(role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
    if (o.userId) {
      // A user's token never carries more rights than the user.
      const owner = await this.store.userById(o.userId);
      if (!owner) throw new Error(`no user ${o.userId}`);
      if (owner.role === 'viewer' && role === 'admin') throw new Error('a viewer cannot create an admin token');
    }
    const token = secretId(TOKEN_PREFIX);
    const id = randomUUID();
    const expiresAt = o.expiresAt ? o.expiresAt.toISOString() : null;
    await this.store.insertToken({ id, name, role, token_hash: sha256(token), user_id: o.userId ?? null, created_by: o.createdBy, expires_at: expiresAt }, this.now());
    return { id, token, name, role, expiresAt };
  }

  listTokens(): Promise<PublicToken[]> { return this.store.listTokens(); }
  revokeToken(id: string): Promise<boolean> { return this.store.revokeToken(id, this.now()); }

  // ---- sessions ----

  /** Checks name and password; on success opens a session whose id goes into the UI's cookie. */
  async login(name: string, password: string): Promise<LoginResult> {
    const now = this.now();
    const user = await this.store.userByName(name);
    // Unknown users cost the same scrypt work as known ones, so timing does not reveal which names exist.
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    const ok = await verifyPassword(password, user?.password_hash ?? (await this.dummyHash));
    const locked = user?.locked_until !== null && user?.locked_until !== undefined && Date.parse(user.locked_until) > now.getTime();
    if (!user || !ok || user.disabled || locked) {
      if (user && !ok) await this.store.recordLoginFailure(user.id, this.lockAfter, this.lockMs, now);
      throw new AuthError('invalid user name or password, or the account is locked or disabled');
    }
    await this.store.recordLoginSuccess(user.id, now);
    const sessionId = secretId(SESSION_PREFIX);
    const expires = new Date(now.getTime() + this.ttl);
    await this.store.insertSession({ id_hash: sha256(sessionId), user_id: user.id, expires_at: expires }, now);
    return { sessionId, expiresAt: expires.toISOString(), principal: { user: user.name, role: user.role, via: 'session', userId: user.id, expiresAt: expires.toISOString() } };
  }

  async logout(sessionId: string): Promise<void> {
    await this.store.revokeSession(sha256(sessionId), this.now());
  }

  /**
   * The principal behind an API token or a session id, or null when the credential is unknown, expired,
   * revoked or belongs to a disabled user. Accepts the raw value of an `Authorization: Bearer` header too.
   */
  async authenticate(credential: string | undefined | null): Promise<Principal | null> {
    if (!credential) return null;
    const value = credential.replace(/^Bearer\s+/i, '').trim();
    const now = this.now();
    if (value.startsWith(TOKEN_PREFIX)) {
      const t = await this.store.tokenByHash(sha256(value));
      if (!t || t.revoked_at || (t.expires_at && Date.parse(t.expires_at) <= now.getTime())) return null;
      if (t.user_id) {
        const owner = await this.store.userById(t.user_id);
        if (!owner || owner.disabled) return null;
      }
      if (!t.last_used_at || now.getTime() - Date.parse(t.last_used_at) > TOUCH_EVERY_MS) await this.store.touchToken(t.id, now);
      return { user: t.name, role: t.role, via: 'token', tokenId: t.id, userId: t.user_id ?? undefined, expiresAt: t.expires_at ?? undefined };
    }
    if (value.startsWith(SESSION_PREFIX)) {
      const hash = sha256(value);
      const s = await this.store.sessionByHash(hash);
      if (!s || s.revoked_at || Date.parse(s.expires_at) <= now.getTime() || now.getTime() - Date.parse(s.last_seen_at) > this.idle) return null;
      const user = await this.store.userById(s.user_id);
      if (!user || user.disabled) return null;
      if (now.getTime() - Date.parse(s.last_seen_at) > TOUCH_EVERY_MS) await this.store.touchSession(hash, now);
      return { user: user.name, role: user.role, via: 'session', userId: user.id, expiresAt: s.expires_at };
    }
    return null;
  }

  // ---- authorization + audit ----

  /** Records one audit entry. Details never carry secret values: callers pass names, the redactor is a second net. */
  async audit(p: Pick<Principal, 'user' | 'via' | 'role'>, action: string, target: string | null, result: AuditEntry['result'], details?: unknown): Promise<void> {
    const safe = details === undefined ? undefined : this.opts.redactor ? JSON.parse(this.opts.redactor.redact(JSON.stringify(details))) : details;
    await this.store.insertAudit({ actor: p.user, actor_kind: p.via, role: p.role, action, target, result, details: safe }, this.now());
  }

  /**
   * Authorizes, runs and audits one action. A denied action is audited and throws ForbiddenError; a failing
   * one is audited with its (redacted) error and rethrown.
   */
  async perform<T>(p: Principal | null, action: Action, target: string | null, fn: () => Promise<T>, details?: Record<string, unknown>): Promise<T> {
    if (!p) throw new AuthError();
    if (!authorize(p.role, action)) {
      await this.audit(p, action, target, 'denied', details);
      throw new ForbiddenError(p.role, action);
    }
    try {
      const out = await fn();
      if (!(READ_ACTIONS as readonly string[]).includes(action)) await this.audit(p, action, target, 'ok', details);
      return out;
    } catch (e) {
      const message = (e as Error).message;
      await this.audit(p, action, target, 'error', { ...details, error: this.opts.redactor ? this.opts.redactor.redact(message) : message });
      throw e;
    }
  }

  listAudit(f?: Parameters<AdminStore['listAudit']>[0]): Promise<AuditEntry[]> { return this.store.listAudit(f); }
}
