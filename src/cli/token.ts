// `qdrant-auth-proxy token`: mints an HS256 JWT in Qdrant's claim format. It refuses to mint what
// the proxy (and Qdrant) would refuse, and says which part of the claims is wrong.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';
import { GRANT_FORM, grantProblem } from '../auth/grant-shape.js';
import { parseStrictJson } from '../auth/json-strict.js';
import { isJsonPath, readClaims, validateClaims } from '../auth/jwt-claims.js';
import { loadConfig } from '../config/load.js';
import { PROVIDER_ALGORITHMS } from '../config/schema.js';
import { parseCommandArgs, UsageError } from './args.js';

export const TOKEN_USAGE = `usage: qdrant-auth-proxy token [--config FILE | --key-env VAR] [options]
       qdrant-auth-proxy token --private-key FILE [provider options] [options]

Mints a JWT signed with service.api_key (HS256), in Qdrant's claim format; or, with --private-key,
an identity provider's token for demos and tests (auth.jwt_providers; README "Identity providers").

  --config FILE         sign with service.api_key of this config (env overrides apply)
  --key-env VAR         sign with the key in environment variable VAR (default QDRANT__SERVICE__API_KEY)
  --access ACCESS       m (manage), r (read), or a JSON list of collection grants (modes r, rw, prw;
                        a grant may carry a tenant, "payload":{"tenant":"acme"}, for a proxy with
                        auth.tenant_isolation); omitted = manage (with --private-key: no access claim)
  --exp SECONDS         expires SECONDS from now (negative: already expired; omitted = never, as Qdrant
                        allows; with --private-key the default is 3600)
  --value-exists JSON   valid only while a matching point exists, e.g.
                        '{"collection":"users","matches":[{"key":"user","value":"alice"}]}'
  --sub TEXT            the "sub" claim
  --subject TEXT        the "subject" claim (written to audit records)
  --jti ID              the "jti" claim: names this token in auth.revocations_file
  --iat                 the "iat" claim (now): revocations by issued_before can then tell it apart

provider options (with --private-key):
  --private-key FILE    sign with this private key: PEM (PKCS#8, or PKCS#1 RSA / SEC1 EC) or a JWK file
  --alg ALG             RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA (default: from the key)
  --kid TEXT            the header's key id (default: the JWK's kid, else the key's JWK thumbprint)
  --issuer URL          the "iss" claim: the provider's issuer, which routes the token to it
  --audience TEXT       the "aud" claim
  --claims JSON         further claims, e.g. '{"groups":["qdrant-admins"],"scope":"openid qdrant:read"}'
  --jwks                print the public JWKS of --private-key (for a provider's jwks_file) instead

examples:
  QDRANT__SERVICE__API_KEY=... qdrant-auth-proxy token --access r --exp 3600
  qdrant-auth-proxy token --config proxy.yaml --access '[{"collection":"docs","access":"rw"}]' --subject alice
  qdrant-auth-proxy token --private-key idp.pem --jwks > jwks.json
  qdrant-auth-proxy token --private-key idp.pem --issuer https://sso.example.com --audience qdrant \\
    --sub alice --claims '{"groups":["qdrant-admins"]}'`;

const OPTIONS = {
  config: { type: 'string' },
  'key-env': { type: 'string' },
  access: { type: 'string' },
  exp: { type: 'string' },
  'value-exists': { type: 'string' },
  sub: { type: 'string' },
  subject: { type: 'string' },
  jti: { type: 'string' },
  iat: { type: 'boolean' },
  'private-key': { type: 'string' },
  alg: { type: 'string' },
  kid: { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  claims: { type: 'string' },
  jwks: { type: 'boolean' },
} as const;

export async function mintToken(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const values = parseCommandArgs('token', args, OPTIONS, ['exp']);
  if (values['private-key'] !== undefined) {
    const hs256Only = (['config', 'key-env'] as const).find((flag) => values[flag] !== undefined);
    if (hs256Only) throw new UsageError(`--${hs256Only}: not with --private-key (it picks the HS256 key)`);
    return mintProviderToken(values['private-key'], values);
  }
  const providerOnly = (['alg', 'kid', 'issuer', 'audience', 'claims', 'jwks'] as const).find((flag) => values[flag] !== undefined);
  if (providerOnly) throw new UsageError(`--${providerOnly}: only with --private-key (an identity provider's token)`);
  const keyEnv = values['key-env'] ?? 'QDRANT__SERVICE__API_KEY';
  const key = values.config ? loadConfig(values.config, env).service.api_key : (env[keyEnv] ?? null);
  if (!key) throw new UsageError(values.config ? `${values.config}: service.api_key is not set` : `no key: set ${keyEnv} or pass --config FILE`);

  const claims = commonClaims(values);
  if (values.exp !== undefined) claims.exp = expiry(values.exp);
  // The same reading the proxy does (a last check: the parts above were checked one by one).
  const parsed = readClaims(parseStrictJson(Buffer.from(JSON.stringify(claims)))!);
  if (!parsed) throw new UsageError("the claims do not have Qdrant's shape (see --help)");
  try {
    validateClaims(parsed, { tenantIsolation: true }); // a grant's payload: for a proxy with auth.tenant_isolation
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(key));
}

type TokenValues = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>;

/** The claims both kinds of token take from the same flags: access, value_exists, sub, subject, jti, iat. */
function commonClaims(values: TokenValues): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (values.access !== undefined) claims.access = parseAccessArgument(values.access);
  if (values['value-exists'] !== undefined) {
    const valueExists = parseJsonArgument(
      '--value-exists',
      values['value-exists'],
      'a JSON object like {"collection":"users","matches":[{"key":"user","value":"alice"}]}',
    );
    const problem = valueExistsProblem(valueExists);
    if (problem) throw new UsageError(`--value-exists: ${problem}`);
    claims.value_exists = valueExists;
  }
  if (values.sub !== undefined) claims.sub = values.sub;
  if (values.subject !== undefined) claims.subject = values.subject;
  if (values.jti !== undefined) {
    if (values.jti === '') throw new UsageError('--jti: expected a non-empty id');
    claims.jti = values.jti;
  }
  if (values.iat) claims.iat = Math.floor(Date.now() / 1000);
  return claims;
}

function expiry(seconds: string): number {
  if (!/^-?\d+$/.test(seconds)) throw new UsageError(`--exp: expected whole seconds from now (e.g. 3600), got "${seconds}"`);
  return Math.max(0, Math.floor(Date.now() / 1000) + Number(seconds));
}

/** An identity provider's token (or, with --jwks, the key's public JWKS), signed with a private key. */
async function mintProviderToken(file: string, values: TokenValues): Promise<string> {
  const key = readPrivateKey(file);
  const alg = values.alg ?? defaultAlgorithm(key);
  if (!(PROVIDER_ALGORITHMS as readonly string[]).includes(alg)) throw new UsageError(`--alg: expected one of ${PROVIDER_ALGORITHMS.join(', ')}, got "${alg}"`);
  const publicJwk = await exportJWK(createPublicKey(key.object));
  const kid = values.kid ?? key.jwk?.kid ?? (await calculateJwkThumbprint(publicJwk));
  if (values.jwks) return JSON.stringify({ keys: [{ ...publicJwk, kid, alg, use: 'sig' }] }, null, 2);
  const claims: Record<string, unknown> = { ...parseExtraClaims(values.claims), ...commonClaims(values) };
  if (values.issuer !== undefined) claims.iss = values.issuer;
  if (values.audience !== undefined) claims.aud = values.audience;
  const now = Math.floor(Date.now() / 1000);
  claims.iat = now;
  claims.exp = values.exp !== undefined ? expiry(values.exp) : now + 3600;
  try {
    return await new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key.object);
  } catch (err) {
    throw new UsageError(`--alg ${alg} does not suit the key in ${file} (${(err as Error).message})`);
  }
}

interface PrivateKeyFile {
  readonly object: KeyObject;
  readonly jwk: (JWK & { kid?: string }) | null;
}

function readPrivateKey(file: string): PrivateKeyFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--private-key: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as JWK;
      return { object: createPrivateKey({ key: jwk as never, format: 'jwk' }), jwk };
    }
    return { object: createPrivateKey(text), jwk: null };
  } catch {
    throw new UsageError(`--private-key: ${file} holds no private key (expected PEM, or a JWK with its private part)`);
  }
}

/** RSA → RS256, EC by curve → ES256/384/512, Ed25519 → EdDSA. */
function defaultAlgorithm(key: PrivateKeyFile): string {
  const type = key.object.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.object.asymmetricKeyDetails?.namedCurve;
    const alg = curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : null;
    if (alg) return alg;
  }
  throw new UsageError(
    `--private-key: a ${type} key${type === 'ec' ? ` on curve ${key.object.asymmetricKeyDetails?.namedCurve}` : ''} has no supported algorithm; give --alg or an RSA, P-256/384/521 or Ed25519 key`,
  );
}

function parseExtraClaims(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  const value = parseJsonArgument('--claims', text, 'a JSON object of claims');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('--claims: expected a JSON object of claims');
  return value as Record<string, unknown>;
}

const MODES = ['r', 'rw', 'prw'];

/** An `--access` value: `m`, `r`, or a JSON list of collection grants; the error names the bad part. */
export function parseAccessArgument(text: string): unknown {
  if (text === 'm' || text === 'r') return text;
  if (MODES.includes(text))
    throw new UsageError(`--access: "${text}" is a collection mode; give it with its collection: '[{"collection":"c1","access":"${text}"}]'`);
  const grant = parseJsonArgument('--access', text, GRANT_FORM);
  // A grant's payload (a tenant) is written as the proxy reads it with auth.tenant_isolation.
  const problem = grantProblem(grant, 'access', { payload: true });
  if (problem) throw new UsageError(`--access: ${problem}`);
  return grant;
}

/** What is wrong with a `value_exists` claim, naming the field; null when nothing. */
export function valueExistsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected {"collection": NAME, "matches": [{"key": PATH, "value": VALUE}]}';
  const { collection, matches } = value as Record<string, unknown>;
  if (typeof collection !== 'string') return `collection: expected a collection name, got ${JSON.stringify(collection)}`;
  if (!Array.isArray(matches)) return `matches: expected a list of {"key": PATH, "value": VALUE}, got ${JSON.stringify(matches)}`;
  for (const [i, m] of matches.entries()) {
    const { key, value: v } = (m ?? {}) as Record<string, unknown>;
    if (typeof key !== 'string' || !isJsonPath(key))
      return `matches[${i}].key: expected a payload path such as "user" or "meta.id", got ${JSON.stringify(key)}`;
    const integer = typeof v === 'number' && Number.isSafeInteger(v);
    if (typeof v !== 'string' && typeof v !== 'boolean' && !integer)
      return `matches[${i}].value: expected a string, an integer or a boolean, got ${JSON.stringify(v)}`;
  }
  return null;
}

function parseJsonArgument(flag: string, text: string, form: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag}: expected ${form}; "${text}" is not valid JSON`);
  }
}
