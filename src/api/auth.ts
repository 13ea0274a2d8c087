import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../config';
import type { StaffRole } from '../workflows/messages';
import { ProblemError } from './problem';

/**
 * Bearer tokens: `sub` is the staff id, `roles` the staff roles. Locally an HS256 shared secret
 * (JWT_SECRET, the same one `npm run token` signs with); in production the identity provider's
 * keys from JWT_JWKS_URL. Issuer and audience are checked either way.
 */
export const STAFF_ROLES = ['officer', 'verifier', 'approver', 'finance', 'collections', 'admin'] as const satisfies readonly StaffRole[];

export interface Staff {
  id: string;
  roles: ReadonlySet<StaffRole>;
}

export type AuthConfig = Pick<Config, 'JWT_SECRET' | 'JWT_JWKS_URL' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>;

const STAFF_ID = /^[A-Za-z0-9._@:-]{1,128}$/;
const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export type Authenticator = (authorization: string | undefined) => Promise<Staff>;

function unauthenticated(detail: string, error: 'invalid_request' | 'invalid_token' = 'invalid_token'): ProblemError {
  const challenge = error === 'invalid_request' ? 'Bearer realm="car-loans"' : `Bearer realm="car-loans", error="${error}"`;
  return new ProblemError('unauthenticated', detail, {}, { 'WWW-Authenticate': challenge });
}

export function createAuthenticator(cfg: AuthConfig): Authenticator {
  const options = { issuer: cfg.JWT_ISSUER, audience: cfg.JWT_AUDIENCE, clockTolerance: 5 };
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
      // A JWKS that cannot be fetched is our outage, not a bad token.
      const providerDown = err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError);
      if (providerDown) throw new ProblemError('unavailable', 'The identity provider did not answer');
      throw unauthenticated('The token is not valid');
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || !STAFF_ID.test(sub)) throw unauthenticated('The token has no usable sub claim');
    return { id: sub, roles: new Set(rolesOf(payload.roles)) };
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
  /** jose duration, e.g. `8h`, `30m`; default 8h. */
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
