// `qdrant-auth-proxy token`: mints an HS256 JWT in Qdrant's claim format.
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { parseStrictJson } from '../auth/json-strict.js';
import { readClaims, validateClaims } from '../auth/jwt-claims.js';
import { loadConfig } from '../config/load.js';

export const TOKEN_USAGE = `usage: qdrant-auth-proxy token [--config FILE | --key-env VAR] [options]
  --config FILE         sign with service.api_key of this config (env overrides apply)
  --key-env VAR         sign with the key in environment variable VAR (default QDRANT__SERVICE__API_KEY)
  --access m|r|JSON     global "m" (manage) or "r" (read), or a JSON list such as
                        '[{"collection":"c1","access":"rw"}]' (modes r, rw, prw); omitted = manage
  --exp SECONDS         expires SECONDS from now (omitted = never expires, as Qdrant allows)
  --value-exists JSON   e.g. '{"collection":"users","matches":[{"key":"user","value":"alice"}]}'
  --sub TEXT            the "sub" claim
  --subject TEXT        the "subject" claim (written to audit records)`;

export async function mintToken(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      config: { type: 'string' },
      'key-env': { type: 'string' },
      access: { type: 'string' },
      exp: { type: 'string' },
      'value-exists': { type: 'string' },
      sub: { type: 'string' },
      subject: { type: 'string' },
    },
  });
  const key = values.config ? loadConfig(values.config, env).service.api_key : (env[values['key-env'] ?? 'QDRANT__SERVICE__API_KEY'] ?? null);
  if (!key)
    throw new Error(
      values.config ? `${values.config}: service.api_key is not set` : `no key: set ${values['key-env'] ?? 'QDRANT__SERVICE__API_KEY'} or pass --config`,
    );

  const claims: Record<string, unknown> = {};
  if (values.access !== undefined) claims.access = values.access === 'm' || values.access === 'r' ? values.access : parseJson('--access', values.access);
  if (values['value-exists'] !== undefined) claims.value_exists = parseJson('--value-exists', values['value-exists']);
  if (values.sub !== undefined) claims.sub = values.sub;
  if (values.subject !== undefined) claims.subject = values.subject;
  if (values.exp !== undefined) {
    if (!/^\d+$/.test(values.exp)) throw new Error('--exp: expected whole seconds from now');
    claims.exp = Math.floor(Date.now() / 1000) + Number(values.exp);
  }
  // Refuse to mint what the proxy (and Qdrant) would reject.
  const parsed = readClaims(parseStrictJson(Buffer.from(JSON.stringify(claims)))!);
  if (!parsed) throw new Error("claims do not have Qdrant's shape (see --help)");
  validateClaims(parsed);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(key));
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${flag}: not valid JSON`);
  }
}
