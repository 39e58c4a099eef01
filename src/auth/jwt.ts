// HS256 JWT verification with jose, algorithm pinned, and Qdrant's outcomes: malformed or non-HS256
// tokens are "not a JWT" (UNAUTHENTICATED), a bad signature or expiry is PERMISSION_DENIED.
// Tokens are tried with `service.api_key`, then `service.alt_api_key`; the first success wins,
// otherwise the first secret's error is reported (as Qdrant does).
import { compactVerify, errors as joseErrors } from 'jose';
import { ProxyError } from '../errors.js';
import { isExpired, parseClaims, principalFromClaims } from './jwt-claims.js';
import type { Principal } from './principal.js';

const SEGMENT = /^[A-Za-z0-9_-]*$/;
// jsonwebtoken's standard header fields; any other header parameter must be a string there.
const STANDARD_HEADER = new Set(['typ', 'alg', 'cty', 'jku', 'jwk', 'kid', 'x5u', 'x5c', 'x5t', 'x5t#S256']);

export interface VerifiedToken {
  readonly principal: Principal;
  readonly exp: number | null;
}

/** One secret's verdict: a token, an error to report, or null for "not a JWT" (Qdrant's `None`). */
type Outcome = VerifiedToken | ProxyError | null;

export class JwtVerifier {
  private readonly secrets: readonly Uint8Array[];

  constructor(secrets: readonly string[]) {
    this.secrets = secrets.map((s) => new TextEncoder().encode(s));
  }

  async verify(token: string, nowMs: number): Promise<VerifiedToken> {
    if (!looksLikeJwt(token)) throw new ProxyError('invalid_credentials');
    const outcomes: Outcome[] = [];
    for (const secret of this.secrets) {
      const outcome = await verifyWith(token, secret, nowMs);
      if (outcome && !(outcome instanceof ProxyError)) return outcome;
      outcomes.push(outcome);
    }
    const firstError = outcomes.find((o): o is ProxyError => o instanceof ProxyError);
    throw firstError ?? new ProxyError('invalid_credentials');
  }
}

async function verifyWith(token: string, secret: Uint8Array, nowMs: number): Promise<Outcome> {
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(token, secret, { algorithms: ['HS256'] }));
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new ProxyError('jwt_invalid_signature');
    return null;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch {
    return null;
  }
  const parsed = parseClaims(payload);
  if (!parsed) return null;
  if (isExpired(parsed.exp, nowMs)) return new ProxyError('jwt_expired');
  try {
    return { principal: principalFromClaims(parsed), exp: parsed.exp };
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
}

/** Structure checks jose is laxer about than Qdrant: unpadded base64url, HS256, string-only extras. */
function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p)) || parts[0] === '') return false;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return false;
  const h = header as Record<string, unknown>;
  if (h.alg !== 'HS256') return false;
  return Object.entries(h).every(([k, v]) => STANDARD_HEADER.has(k) || typeof v === 'string');
}
