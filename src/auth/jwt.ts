// HS256 JWTs verified as Qdrant 1.19 verifies them (jsonwebtoken 10.4 with Validation::new(HS256),
// src/common/auth/jwt_parser.rs): three unpadded base64url segments decoded strictly (canonical
// trailing bits); the header read as jsonwebtoken's Header struct; `alg` exactly HS256; the
// signature (HMAC-SHA256 with the key's UTF-8 bytes, compared in constant time); then the claims
// (jwt-claims.ts). Outcomes are Qdrant's: anything malformed is "not a JWT" (UNAUTHENTICATED), a bad
// signature or expiry is PERMISSION_DENIED. Tokens are tried with `service.api_key`, then
// `service.alt_api_key`; the first success wins, otherwise the first secret's error is reported.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProxyError } from '../errors.js';
import { allStringsValid, type JsonValue, parseStrictJson, structFields } from './json-strict.js';
import { isExpired, readClaims, validateClaims } from './jwt-claims.js';
import { type AccessGrant, type Principal, principalFromGrant } from './principal.js';

export interface VerifiedToken {
  readonly principal: Principal;
  readonly exp: number | null;
}

/** One secret's verdict: a token, an error to report, or null for "not a JWT" (Qdrant's `None`). */
type Outcome = VerifiedToken | ProxyError | null;

// jsonwebtoken's Header fields, by type. `jwk` (a key embedded in the token) and `crit` (extensions
// the verifier must understand) are refused outright: the proxy never uses the first and understands
// no extension (Qdrant ignores both; see README "Where the proxy deliberately differs").
const STRING_FIELDS = ['typ', 'cty', 'jku', 'kid', 'x5u', 'x5t', 'x5t#S256', 'enc', 'zip', 'url', 'nonce'];
const HEADER_FIELDS = ['alg', 'x5c', 'jwk', 'crit', ...STRING_FIELDS];
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Beyond Qdrant, off unless the config turns them on. */
export interface QdrantTokenOptions {
  /** A grant's `payload` is the tenant's conditions (auth.tenant_isolation), not refused. */
  readonly tenantIsolation?: boolean;
  /** A grant naming `prefix*` grants every collection with the prefix (auth.collection_patterns). */
  readonly collectionPatterns?: boolean;
}

export class JwtVerifier {
  private readonly secrets: readonly Buffer[];

  constructor(
    secrets: readonly string[],
    private readonly options: QdrantTokenOptions = {},
  ) {
    this.secrets = secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(token: string, nowMs: number): VerifiedToken {
    const parts = splitToken(token);
    if (!parts) throw new ProxyError('invalid_credentials');
    const outcomes: Outcome[] = [];
    for (const secret of this.secrets) {
      const outcome = verifyWith(parts, secret, nowMs, this.options);
      if (outcome && !(outcome instanceof ProxyError)) return outcome;
      outcomes.push(outcome);
    }
    const firstError = outcomes.find((o): o is ProxyError => o instanceof ProxyError);
    throw firstError ?? new ProxyError('invalid_credentials');
  }
}

interface TokenParts {
  readonly signingInput: string;
  readonly signature: Buffer;
  readonly payload: Buffer;
}

/** Header checks and decoding, independent of the secret; null when the token is not a JWT. */
function splitToken(token: string): TokenParts | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [header, payload, signature] = parts as [string, string, string];
  const headerBytes = strictBase64url(header);
  if (!headerBytes || !validHeader(parseStrictJson(headerBytes))) return null;
  const signatureBytes = strictBase64url(signature);
  const payloadBytes = strictBase64url(payload);
  // A payload that does not decode fails only after the signature (jsonwebtoken's order): kept as null.
  if (!signatureBytes) return null;
  return { signingInput: `${header}.${payload}`, signature: signatureBytes, payload: payloadBytes ?? Buffer.alloc(0) };
}

function verifyWith(parts: TokenParts, secret: Buffer, nowMs: number, options: QdrantTokenOptions): Outcome {
  const expected = createHmac('sha256', secret).update(parts.signingInput, 'latin1').digest();
  if (parts.signature.length !== expected.length || !timingSafeEqual(parts.signature, expected)) return new ProxyError('jwt_invalid_signature');
  const payload = parts.payload.length > 0 ? parseStrictJson(parts.payload) : null;
  const claims = payload ? readClaims(payload) : null;
  if (!claims) return null;
  if (isExpired(claims.exp, nowMs)) return new ProxyError('jwt_expired');
  let grant: AccessGrant;
  try {
    grant = validateClaims(claims, options);
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  const principal = principalFromGrant(
    grant,
    {
      authType: 'Jwt',
      subject: claims.subject,
      ...(claims.valueExists ? { valueExists: claims.valueExists } : {}),
      ...(claims.jti.length > 0 ? { jti: claims.jti } : {}),
      issuedAt: claims.iat,
      ...(claims.subjects.length > 0 ? { subjects: claims.subjects } : {}),
    },
    { patterns: options.collectionPatterns ?? false },
  );
  return { principal, exp: claims.exp };
}

/** jsonwebtoken's Header: `alg` HS256 here, typed standard fields, any other field a string. */
function validHeader(header: JsonValue | null): boolean {
  if (header?.kind !== 'object' || !allStringsValid(header)) return false;
  const fields = structFields(header, HEADER_FIELDS);
  if (!fields) return false;
  const alg = fields.get('alg');
  if (alg?.kind !== 'string' || alg.value !== 'HS256') return false;
  for (const name of ['jwk', 'crit']) if (fields.has(name) && fields.get(name)!.kind !== 'null') return false;
  const x5c = fields.get('x5c');
  if (x5c && x5c.kind !== 'null' && !(x5c.kind === 'array' && x5c.items.every((i) => i.kind === 'string'))) return false;
  for (const name of STRING_FIELDS) {
    const v = fields.get(name);
    if (v && v.kind !== 'null' && v.kind !== 'string') return false;
  }
  // Every other header parameter lands in jsonwebtoken's `extras: HashMap<String, String>`.
  return header.entries.every((e) => HEADER_FIELDS.includes(e.key) || e.value.kind === 'string');
}

/** Unpadded base64url in its one canonical form (the base64 crate refuses other trailing bits); null otherwise. */
export function strictBase64url(segment: string): Buffer | null {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}
