// `qdrant-auth-proxy token`: mints an HS256 JWT in Qdrant's claim format. It refuses to mint what
// the proxy (and Qdrant) would refuse, and says which part of the claims is wrong.
import { SignJWT } from 'jose';
import { parseStrictJson } from '../auth/json-strict.js';
import { isJsonPath, readClaims, validateClaims } from '../auth/jwt-claims.js';
import { loadConfig } from '../config/load.js';
import { parseCommandArgs, UsageError } from './args.js';

export const TOKEN_USAGE = `usage: qdrant-auth-proxy token [--config FILE | --key-env VAR] [options]

Mints a JWT signed with service.api_key (HS256), in Qdrant's claim format.

  --config FILE         sign with service.api_key of this config (env overrides apply)
  --key-env VAR         sign with the key in environment variable VAR (default QDRANT__SERVICE__API_KEY)
  --access ACCESS       m (manage), r (read), or a JSON list of collection grants (modes r, rw, prw);
                        omitted = manage
  --exp SECONDS         expires SECONDS from now (negative: already expired; omitted = never, as Qdrant allows)
  --value-exists JSON   valid only while a matching point exists, e.g.
                        '{"collection":"users","matches":[{"key":"user","value":"alice"}]}'
  --sub TEXT            the "sub" claim
  --subject TEXT        the "subject" claim (written to audit records)

examples:
  QDRANT__SERVICE__API_KEY=... qdrant-auth-proxy token --access r --exp 3600
  qdrant-auth-proxy token --config proxy.yaml --access '[{"collection":"docs","access":"rw"}]' --subject alice`;

const OPTIONS = {
  config: { type: 'string' },
  'key-env': { type: 'string' },
  access: { type: 'string' },
  exp: { type: 'string' },
  'value-exists': { type: 'string' },
  sub: { type: 'string' },
  subject: { type: 'string' },
} as const;

export async function mintToken(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const values = parseCommandArgs('token', args, OPTIONS, ['exp']);
  const keyEnv = values['key-env'] ?? 'QDRANT__SERVICE__API_KEY';
  const key = values.config ? loadConfig(values.config, env).service.api_key : (env[keyEnv] ?? null);
  if (!key) throw new UsageError(values.config ? `${values.config}: service.api_key is not set` : `no key: set ${keyEnv} or pass --config FILE`);

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
  if (values.exp !== undefined) {
    if (!/^-?\d+$/.test(values.exp)) throw new UsageError(`--exp: expected whole seconds from now (e.g. 3600), got "${values.exp}"`);
    claims.exp = Math.max(0, Math.floor(Date.now() / 1000) + Number(values.exp));
  }
  // The same reading the proxy does (a last check: the parts above were checked one by one).
  const parsed = readClaims(parseStrictJson(Buffer.from(JSON.stringify(claims)))!);
  if (!parsed) throw new UsageError("the claims do not have Qdrant's shape (see --help)");
  try {
    validateClaims(parsed);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(key));
}

const GRANT_FORM = 'm, r, or a JSON list like \'[{"collection":"c1","access":"rw"}]\'';
const MODES = ['r', 'rw', 'prw'];

/** An `--access` value: `m`, `r`, or a JSON list of collection grants; the error names the bad part. */
export function parseAccessArgument(text: string): unknown {
  if (text === 'm' || text === 'r') return text;
  if (MODES.includes(text))
    throw new UsageError(`--access: "${text}" is a collection mode; give it with its collection: '[{"collection":"c1","access":"${text}"}]'`);
  const grant = parseJsonArgument('--access', text, GRANT_FORM);
  const problem = grantProblem(grant);
  if (problem) throw new UsageError(`--access: ${problem}`);
  return grant;
}

/** What is wrong with a grant (Qdrant's `access` claim shape), naming the field; null when nothing. */
export function grantProblem(grant: unknown, name = 'access'): string | null {
  if (grant === 'm' || grant === 'r') return null;
  if (!Array.isArray(grant)) return `${name}: expected ${GRANT_FORM}, got ${JSON.stringify(grant)}`;
  const seen = new Set<string>();
  for (const [i, entry] of grant.entries()) {
    const at = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return `${at}: expected {"collection": NAME, "access": MODE}, got ${JSON.stringify(entry)}`;
    const { collection, access, ...rest } = entry as Record<string, unknown>;
    if (typeof collection !== 'string') return `${at}.collection: expected a collection name, got ${JSON.stringify(collection)}`;
    if (typeof access !== 'string' || !MODES.includes(access)) return `${at}.access: expected "r", "rw" or "prw", got ${JSON.stringify(access)}`;
    if ('payload' in rest) return `${at}.payload: The 'payload' constraint is deprecated and should not be used`;
    if (seen.has(collection)) return `${at}.collection: "${collection}" is listed twice`;
    seen.add(collection);
  }
  return null;
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
