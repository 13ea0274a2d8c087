import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../config';
import type { StaffRole } from '../workflows/messages';
import { ProblemError } from './problem';

/**
 * Bearer tokens: `sub` is the staff id, `roles` the staff roles. Locally an HS256 shared secret
 * (JWT_SECRET, the same one `npm run token` signs with); in production the identity provider's
 * keys from JWT_JWKS_URL. Issuer and audience are checked either way, and so is the token's time:
 * `exp` is required, a token lives at most 12 hours (`exp − iat`, or `exp − now` for a token
 * without `iat`: it must end within 12 hours of its use), and `iat` may be at most a minute ahead.
 * A token without a known role is refused (403) whatever it asks. Staff ids are case-insensitive:
 * the API knows each person by the trimmed, lower-cased `sub`, so `PROBE-CASE` is `probe-case`.
 */
export const STAFF_ROLES = ['officer', 'verifier', 'approver', 'supervisor', 'finance', 'collections', 'admin'] as const satisfies readonly StaffRole[];

export interface Staff {
  id: string;
  roles: ReadonlySet<StaffRole>;
}

export type AuthConfig = Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>;

const STAFF_ID = /^[A-Za-z0-9._@:-]{1,128}$/;
/** Longest life a token may have, and how far its `iat` may run ahead of our clock. */
export const TOKEN_MAX_LIFETIME_S = 12 * 3600;
export const TOKEN_IAT_SKEW_S = 60;

/** The one spelling of a staff id: trimmed and lower-cased (identities compare case-insensitively). */
export const normalizeStaffId = (id: string): string => id.trim().toLowerCase();
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export type Authenticator = (authorization: string | undefined) => Promise<Staff>;

function unauthenticated(detail: string, error: 'invalid_request' | 'invalid_token' = 'invalid_token'): ProblemError {
  const challenge = error === 'invalid_request' ? 'Bearer realm="car-loans"' : `Bearer realm="car-loans", error="${error}"`;
  return new ProblemError('unauthenticated', detail, {}, { 'WWW-Authenticate': challenge });
}

export function createAuthenticator(cfg: AuthConfig): Authenticator {
  const options = { issuer: cfg.JWT_ISSUER, audience: cfg.JWT_AUDIENCE, clockTolerance: 5, requiredClaims: ['exp'] };
  let verify: (token: string) => Promise<JWTPayload>;
  if (cfg.JWT_JWKS_URL) {
    const jwks = createRemoteJWKSet(new URL(cfg.JWT_JWKS_URL), { timeoutDuration: 3000, cooldownDuration: 30_000 });
    verify = async (token) => (await jwtVerify(token, jwks, { ...options, algorithms: ASYMMETRIC_ALGS })).payload;
  } else {
    const secret = new TextEncoder().encode(cfg.JWT_SECRET);
    verify = async (token) => (await jwtVerify(token, secret, { ...options, algorithms: ['HS256'] })).payload;
  }

  return async (authorization) => {
    if (!authorization) throw unauthenticated('Send Authorization: Bearer <token>', 'invalid_request');
    const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim());
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"', 'invalid_request');
    let payload: JWTPayload;
    try {
      payload = await verify(match[1] as string);
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'exp') throw unauthenticated('The token has no usable exp claim');
      // A JWKS that cannot be fetched is our outage, not a bad token.
      const providerDown = err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError);
      if (providerDown) throw new ProblemError('unavailable', 'The identity provider did not answer');
      throw unauthenticated('The token is not valid');
    }
    const nowS = Math.floor(Date.now() / 1000);
    const exp = payload.exp as number;
    if (typeof payload.iat === 'number' && payload.iat > nowS + TOKEN_IAT_SKEW_S) throw unauthenticated('The token was issued in the future');
    if (exp - (typeof payload.iat === 'number' ? payload.iat : nowS) > TOKEN_MAX_LIFETIME_S) throw unauthenticated('The token lives longer than 12 hours');
    const sub = typeof payload.sub === 'string' ? payload.sub.trim() : undefined;
    if (sub === undefined || !STAFF_ID.test(sub)) throw unauthenticated('The token has no usable sub claim');
    const roles = rolesOf(payload.roles);
    if (roles.length === 0) {
      throw new ProblemError('forbidden', `The token carries no known role (${STAFF_ROLES.join(', ')})`, { requiredRoles: [...STAFF_ROLES] });
    }
    return { id: normalizeStaffId(sub), roles: new Set(roles) };
  };
}

/** Known roles from the `roles` claim (an array, or a space- or comma-separated string); others ignored. */
export function rolesOf(claim: unknown): StaffRole[] {
  const values = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(/[\s,]+/) : [];
  return STAFF_ROLES.filter((r) => values.includes(r));
}

/** 403 unless the staff member has one of the roles. */
export function assertRole(staff: Staff, allowed: readonly StaffRole[]): void {
  if (!allowed.some((r) => staff.roles.has(r))) {
    throw new ProblemError('forbidden', `This needs the role ${allowed.join(' or ')}`, { requiredRoles: [...allowed] });
  }
}

export interface DevTokenOptions {
  sub: string;
  roles: readonly StaffRole[];
  /** jose duration, e.g. `8h`, `30m`; default 8h, at most 12h (longer tokens are refused). */
  expiresIn?: string;
}

/** A development token signed with JWT_SECRET (what `npm run token` prints). */
export async function mintDevToken(cfg: Pick<Config, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>, opts: DevTokenOptions): Promise<string> {
  if (!STAFF_ID.test(opts.sub)) throw new Error(`sub must match ${STAFF_ID}`);
  return new SignJWT({ roles: [...opts.roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.sub)
    .setIssuer(cfg.JWT_ISSUER)
    .setAudience(cfg.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '8h')
    .sign(new TextEncoder().encode(cfg.JWT_SECRET));
}
