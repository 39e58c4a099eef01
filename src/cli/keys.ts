// `qdrant-auth-proxy keys create | hash | list`: named keys for auth.keys_file (README "Named keys").
// A key is printed once, by `create`; the file only ever holds its hash.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { AuthFileError } from '../auth/auth-yaml.js';
import { GRANT_FORM } from '../auth/grant-shape.js';
import { createKey, hashKey, KEY_ID, keyIdOf } from '../auth/named-keys/key-format.js';
import { type NamedKey, parseKeysFile, readTime } from '../auth/named-keys/keys-file.js';
import type { AccessGrant } from '../auth/principal.js';
import { loadConfig } from '../config/load.js';
import { parseCommandArgs, UsageError } from './args.js';
import { parseAccessArgument } from './token.js';

export const KEYS_USAGE = `usage: qdrant-auth-proxy keys create --id ID --access ACCESS [options]
       qdrant-auth-proxy keys hash [--key-env VAR]
       qdrant-auth-proxy keys list (--file FILE | --config FILE) [--warn-days N]

create   makes a key: prints the key alone on the first line (shown once: store it now), then the
         YAML entry to add under "keys:" in auth.keys_file (its hash, never the key)
  --id ID              1-64 letters, digits and -; the key carries it in the clear (qap_ID_…)
  --access ACCESS      ${GRANT_FORM}
  --expires-in TIME    e.g. 90d (default), 12h, 2w, or never
  --not-before TIME    RFC 3339, e.g. 2027-01-01T00:00:00Z
  --subject TEXT       the subject written to audit records (default: the id)
  --description TEXT
hash     prints the hash of an existing key, read from stdin (or from environment variable VAR)
list     the keys of a keys file (or of the config's auth.keys_file): ids, access, expiry, never a
         secret; flags keys expired, not yet valid, or expiring within N days (default: the
         config's auth.key_expiry_warning_days, else 14)

examples:
  qdrant-auth-proxy keys create --id billing-svc --access '[{"collection":"invoices","access":"rw"}]' --expires-in 90d
  printf %s "$KEY" | qdrant-auth-proxy keys hash
  qdrant-auth-proxy keys list --config proxy.yaml`;

const OPTIONS = {
  id: { type: 'string' },
  access: { type: 'string' },
  'expires-in': { type: 'string' },
  'not-before': { type: 'string' },
  subject: { type: 'string' },
  description: { type: 'string' },
  'key-env': { type: 'string' },
  file: { type: 'string' },
  config: { type: 'string' },
  'warn-days': { type: 'string' },
} as const;

const DAY = 24 * 3600 * 1000;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3600_000, d: DAY, w: 7 * DAY };

export async function keysCommand(args: string[], stdin: () => Promise<string> = readStdin, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const [sub, ...rest] = args;
  const values = parseCommandArgs('keys', rest, OPTIONS);
  switch (sub) {
    case 'create':
      return create(values);
    case 'hash': {
      const key = values['key-env'] ? env[values['key-env']] : (await stdin()).replace(/\r?\n$/, '');
      if (!key) throw new UsageError(values['key-env'] ? `${values['key-env']} is not set` : 'no key on stdin');
      if (keyIdOf(key) === null) throw new UsageError('that is not a named key (qap_ID_SECRET, as keys create prints it)');
      return hashKey(key);
    }
    case 'list':
      return list(values, env);
    default:
      throw new UsageError(`keys: expected create, hash or list${sub ? `, got "${sub}"` : ''} (see: qdrant-auth-proxy keys --help)`);
  }
}

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>;

function create(values: Values): string {
  const id = values.id;
  if (!id) throw new UsageError('--id is required');
  if (!KEY_ID.test(id)) throw new UsageError(`--id: use 1-64 letters, digits and - (no _), got "${id}"`);
  if (values.access === undefined) throw new UsageError('--access is required (m, r, or a JSON list of collection grants)');
  const access = parseAccessArgument(values.access) as AccessGrant;
  const expiresIn = values['expires-in'] ?? '90d';
  const entry: Record<string, unknown> = { id, hash: '', access };
  if (expiresIn !== 'never') {
    const m = /^(\d+)([smhdw])$/.exec(expiresIn);
    if (!m || Number(m[1]) === 0) throw new UsageError(`--expires-in: expected a duration such as 90d, 12h, 2w, or never; got "${expiresIn}"`);
    entry.expires_at = rfc3339(Date.now() + Number(m[1]) * UNIT_MS[m[2]!]!);
  }
  if (values['not-before'] !== undefined) {
    try {
      readTime(values['not-before'], '--not-before');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    entry.not_before = values['not-before'];
  }
  if (values.subject !== undefined) entry.subject = values.subject;
  if (values.description !== undefined) entry.description = values.description;
  const key = createKey(id);
  entry.hash = hashKey(key);
  return `${key}\n${stringify([entry], { flowCollectionPadding: false }).trimEnd()}`;
}

function list(values: Values, env: NodeJS.ProcessEnv): string {
  let file = values.file ?? null;
  let warnDays = 14;
  if (values.config) {
    const auth = loadConfig(values.config, env).auth;
    file ??= auth.keys_file;
    if (!file) throw new UsageError(`${values.config}: auth.keys_file is not set`);
    warnDays = auth.key_expiry_warning_days;
  }
  if (!file) throw new UsageError('give --file FILE or --config FILE');
  if (values['warn-days'] !== undefined) {
    if (!/^\d+$/.test(values['warn-days'])) throw new UsageError(`--warn-days: expected whole days, got "${values['warn-days']}"`);
    warnDays = Number(values['warn-days']);
  }
  let keys: NamedKey[];
  try {
    // Expired entries are listed (and flagged) here; the proxy refuses a file holding them.
    keys = parseKeysFile(readFileSync(file, 'utf8'), file, Number.NEGATIVE_INFINITY);
  } catch (err) {
    if (err instanceof AuthFileError) throw new UsageError(err.message);
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const now = Date.now();
  const rows = keys.map((k) => [k.id, accessText(k.access), k.expiresAt === null ? 'never' : rfc3339(k.expiresAt), status(k, now, warnDays), k.subject]);
  const header = ['id', 'access', 'expires_at', 'status', 'subject'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line), `${keys.length} key${keys.length === 1 ? '' : 's'} in ${file}`].join('\n');
}

function status(k: NamedKey, now: number, warnDays: number): string {
  if (k.expiresAt !== null && k.expiresAt <= now) return 'EXPIRED (remove it: the proxy refuses the file)';
  if (k.notBefore !== null && now < k.notBefore) return `not valid until ${rfc3339(k.notBefore)}`;
  if (k.expiresAt !== null && k.expiresAt - now <= warnDays * DAY) return `EXPIRES SOON (in ${Math.ceil((k.expiresAt - now) / DAY)} d)`;
  return 'ok';
}

function accessText(access: AccessGrant): string {
  if (access === 'm') return 'm (manage)';
  if (access === 'r') return 'r (read)';
  return access.map((g) => `${g.collection}:${g.access}`).join(', ') || '(no collection)';
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
